"""Beam Python pipelines the runner must run, each returning the PCollection whose contents the
tests compare with Beam's own FnApiRunner. Outputs are made order-independent here (grouped
values sorted, dicts as sorted items) because no runner promises an order."""
import os
import random
import signal
import time

import apache_beam as beam
from apache_beam import window
from apache_beam.coders import StrUtf8Coder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    CombiningValueStateSpec,
    OrderedListStateSpec,
    ReadModifyWriteStateSpec,
    SetStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.timestamp import Timestamp

CASES = {}
# Set by run_cases.py: "fnapi" (the reference) or "portable" (ours). Fault cases only break ours.
RUNNER = None


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def write_text_files(workdir, count=4, lines=300):
    os.makedirs(workdir, exist_ok=True)
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    for i in range(count):
        with open(os.path.join(workdir, f"input-{i}.txt"), "w") as f:
            for _ in range(lines):
                f.write(" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))) + "\n")
    return os.path.join(workdir, "input-*.txt")


@case
def wordcount_files(p, workdir):
    pattern = write_text_files(os.path.join(workdir, "wordcount-input"))
    out = os.path.join(workdir, "wordcount-out", "counts")
    counts = (
        p
        | beam.io.ReadFromText(pattern)
        | beam.FlatMap(str.split)
        | beam.combiners.Count.PerElement()
    )
    written = counts | beam.MapTuple(lambda w, c: f"{w}\t{c}") | beam.io.WriteToText(out)
    # Read back what the file sink wrote, once it has finalized.
    return (
        written
        | beam.combiners.Count.Globally()
        | beam.FlatMap(lambda _, pattern: [l.rstrip("\n") for f in sorted(__import__("glob").glob(pattern)) for l in open(f)], out + "*")
    )


def numbers(p, n=200):
    return p | "Numbers" >> beam.Create(list(range(n)))


@case
def combiners(p, workdir):
    nums = numbers(p)
    keyed = nums | beam.Map(lambda x: (x % 5, x))
    return (
        keyed | "SumPerKey" >> beam.CombinePerKey(sum) | "TagSum" >> beam.Map(lambda kv: ("sum_per_key", kv)),
        nums | "SumGlobally" >> beam.CombineGlobally(sum) | "TagGlobal" >> beam.Map(lambda v: ("sum_globally", v)),
        nums | "Count" >> beam.combiners.Count.Globally() | "TagCount" >> beam.Map(lambda v: ("count", v)),
        nums | "Top" >> beam.combiners.Top.Of(5) | "TagTop" >> beam.Map(lambda v: ("top", v)),
        nums | "Mean" >> beam.combiners.Mean.Globally() | "TagMean" >> beam.Map(lambda v: ("mean", v)),
        keyed | "MeanPerKey" >> beam.combiners.Mean.PerKey() | "TagMeanPerKey" >> beam.Map(lambda v: ("mean_per_key", v)),
    ) | beam.Flatten()


@case
def cogroupbykey(p, workdir):
    emails = p | "Emails" >> beam.Create([("amy", "amy@x"), ("carl", "carl@x"), ("julia", "julia@x"), ("carl", "carl@y")])
    phones = p | "Phones" >> beam.Create([("amy", "111"), ("james", "222"), ("amy", "333"), ("carl", "444")])
    return (
        {"emails": emails, "phones": phones}
        | beam.CoGroupByKey()
        | beam.MapTuple(lambda k, v: (k, sorted(v["emails"]), sorted(v["phones"])))
    )


@case
def flatten_partition_multi_output(p, workdir):
    a = p | "A" >> beam.Create(range(0, 10))
    b = p | "B" >> beam.Create(range(100, 110))
    c = p | "C" >> beam.Create(range(1000, 1005)) | "Double" >> beam.Map(lambda x: x * 2)
    merged = (a, b, c) | "Flatten3" >> beam.Flatten()
    evens, odds, big = merged | beam.Partition(lambda x, n: 2 if x >= 1000 else x % 2, 3)

    class SplitDigits(beam.DoFn):
        def process(self, x):
            if x % 3 == 0:
                yield beam.pvalue.TaggedOutput("threes", x)
            else:
                yield x

    results = merged | "Split" >> beam.ParDo(SplitDigits()).with_outputs("threes", main="rest")
    return (
        evens | "TagE" >> beam.Map(lambda x: ("even", x)),
        odds | "TagO" >> beam.Map(lambda x: ("odd", x)),
        big | "TagB" >> beam.Map(lambda x: ("big", x)),
        results.threes | "TagT" >> beam.Map(lambda x: ("three", x)),
        results.rest | "TagR" >> beam.Map(lambda x: ("rest", x)),
    ) | "FlattenAll" >> beam.Flatten()


@case
def side_inputs(p, workdir):
    main = p | "Main" >> beam.Create(["a", "b", "c"])
    single = p | "Single" >> beam.Create([10])
    it = p | "Iter" >> beam.Create([1, 2, 3])
    lst = p | "List" >> beam.Create([4, 5])
    kvs = p | "Dict" >> beam.Create([("a", 1), ("b", 2)])
    multi = p | "Multi" >> beam.Create([("a", 1), ("a", 2), ("c", 3)])

    def use(x, single, it, lst, d, mm):
        return (x, single, sorted(it), sorted(lst), d.get(x), sorted(mm[x]), sorted(d.items()))

    return main | beam.Map(
        use,
        single=beam.pvalue.AsSingleton(single),
        it=beam.pvalue.AsIter(it),
        lst=beam.pvalue.AsList(lst),
        d=beam.pvalue.AsDict(kvs),
        mm=beam.pvalue.AsMultiMap(multi),
    )


@case
def side_input_of_its_own_input(p, workdir):
    # The side input is computed from the very PCollection the Map reads as its main input: the
    # Map cannot join the stage that produces that input (the stage would wait for itself).
    nums = p | "Nums" >> beam.Create(list(range(1, 201))) | "Double" >> beam.Map(lambda x: 2 * x)
    total = nums | "Total" >> beam.CombineGlobally(sum)
    return nums | "Share" >> beam.Map(lambda x, t: (x, round(x / t, 6)), t=beam.pvalue.AsSingleton(total))


def timestamped(p, label, items):
    return p | label >> beam.Create(items) | f"{label}Stamp" >> beam.Map(lambda kv: window.TimestampedValue(kv, kv[1]))


class FormatWindow(beam.DoFn):
    def process(self, kv, w=beam.DoFn.WindowParam):
        k, v = kv
        yield (k, sorted(v) if isinstance(v, (list, tuple)) or hasattr(v, "__iter__") else v, float(w.start), float(w.end))


@case
def windowing(p, workdir):
    events = [("k1", t) for t in (1, 2, 5, 11, 12, 30, 31, 45)] + [("k2", t) for t in (3, 20, 21, 22)]
    out = []
    for name, fn in (
        ("Fixed", window.FixedWindows(10)),
        ("Sliding", window.SlidingWindows(20, 10)),
        ("Sessions", window.Sessions(5)),
    ):
        out.append(
            timestamped(p, name, events)
            | f"{name}Window" >> beam.WindowInto(fn)
            | f"{name}Group" >> beam.GroupByKey()
            | f"{name}Format" >> beam.ParDo(FormatWindow())
            | f"{name}Tag" >> beam.Map(lambda x, name=name: (name,) + x)
        )
    out.append(
        timestamped(p, "FixedSum", events)
        | "FixedSumWindow" >> beam.WindowInto(window.FixedWindows(10))
        | "FixedSumCombine" >> beam.CombinePerKey(sum)
        | "FixedSumFormat" >> beam.ParDo(FormatWindow())
        | "FixedSumTag" >> beam.Map(lambda x: ("FixedSum",) + x)
    )
    return tuple(out) | beam.Flatten()


class BufferUntilTimer(beam.DoFn):
    BUFFER = BagStateSpec("buffer", VarIntCoder())
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)

    def process(self, kv, ts=beam.DoFn.TimestampParam, buffer=beam.DoFn.StateParam(BUFFER), flush=beam.DoFn.TimerParam(FLUSH)):
        buffer.add(kv[1])
        flush.set(100)

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, buffer=beam.DoFn.StateParam(BUFFER)):
        values = sorted(buffer.read())
        buffer.clear()
        yield (key, values, sum(values))


@case
def stateful_timer(p, workdir):
    data = [(f"k{i % 4}", i) for i in range(40)]
    return (
        p
        | beam.Create(data)
        | beam.Map(lambda kv: window.TimestampedValue(kv, kv[1]))
        | beam.ParDo(BufferUntilTimer())
    )


@case
def reshuffle_two_gbks(p, workdir):
    n = 100_000
    return (
        p
        | beam.Create(list(range(n)))
        | beam.Reshuffle()
        | "Key1" >> beam.Map(lambda x: (x % 1000, x))
        | "Group1" >> beam.GroupByKey()
        | "Sum1" >> beam.MapTuple(lambda k, vs: (k % 10, (len(list(vs)), sum(vs))))
        | "Group2" >> beam.GroupByKey()
        | "Sum2" >> beam.MapTuple(lambda k, vs: (k, sum(c for c, _ in vs), sum(s for _, s in vs)))
    )


@case
def metrics(p, workdir):
    class Measure(beam.DoFn):
        def __init__(self):
            self.seen = Metrics.counter("cases", "elements_seen")
            self.sizes = Metrics.distribution("cases", "element_size")

        def process(self, x):
            self.seen.inc()
            self.sizes.update(x)
            yield x

    return numbers(p, 50) | beam.ParDo(Measure()) | beam.combiners.Count.Globally()


@case
def failing_dofn(p, workdir):
    def explode(x):
        if x == 7:
            raise ValueError("boom: the element was seven")
        return x

    return numbers(p, 20) | "Explode" >> beam.Map(explode)


def fail_once(marker, kill):
    """Kills a process the first time any worker gets here; retries then find the marker."""

    def maybe_fail(x):
        if marker and x == 3 and not os.path.exists(marker):
            open(marker, "w").close()
            kill()
        return x

    return maybe_fail


@case
def harness_killed_mid_task(p, workdir):
    marker = os.path.join(workdir, "harness-killed") if RUNNER == "portable" else None
    return (
        numbers(p, 100)
        | "MaybeKillHarness" >> beam.Map(fail_once(marker, lambda: os._exit(1)))
        | beam.Map(lambda x: (x % 7, x))
        | beam.GroupByKey()
        | beam.MapTuple(lambda k, vs: (k, sorted(vs)))
    )


@case
def worker_killed_mid_task(p, workdir):
    # The harness's parent is the runner's worker process: kill it, as a Lambda timeout would.
    marker = os.path.join(workdir, "worker-killed") if RUNNER == "portable" else None
    return (
        numbers(p, 100)
        | "MaybeKillWorker" >> beam.Map(fail_once(marker, lambda: os.kill(os.getppid(), 9)))
        | beam.Map(lambda x: (x % 7, x))
        | beam.GroupByKey()
        | beam.MapTuple(lambda k, vs: (k, sorted(vs)))
    )


CHAOS_RECORDS = 1_200_000
CHAOS_SEEDS = 48
CHAOS_KEYS = 1000


def chaos_records(seed):
    per_seed = CHAOS_RECORDS // CHAOS_SEEDS
    for i in range(seed * per_seed, (seed + 1) * per_seed):
        yield (i * 7919) % CHAOS_KEYS, i


def count_and_sum(key, values):
    count = total = 0
    for v in values:
        count += 1
        total += v
    return key % 10, (key, count, total)


@case
def chaos_million_records(p, workdir):
    """1.2 million records, generated from a few seeds, through two GroupByKeys: the per-key count
    and sum of 1000 keys, then those grouped by the key's last digit. test/e2e/chaos.test.ts runs it
    while killing worker processes and SDK harnesses, chaos-aws.test.ts while killing emulated Lambda
    execution environments; the output must not change."""
    return (
        p
        | "Seeds" >> beam.Create(range(CHAOS_SEEDS))
        | "Generate" >> beam.FlatMap(chaos_records)
        | "GroupByKey" >> beam.GroupByKey()
        | "CountAndSum" >> beam.MapTuple(count_and_sum)
        | "GroupByDigit" >> beam.GroupByKey()
        | "Rows" >> beam.FlatMapTuple(lambda _, rows: sorted(rows))
    )


def kill_execution_environment():
    """Kills the runtime of the emulated Lambda execution environment running this harness, and
    the harness: they are one process group (the emulator's is another), as a runtime crashes.
    Outside one, that group is someone else's."""
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise RuntimeError("environment_killed_mid_task runs only in an emulated Lambda environment")
    os.killpg(os.getpgid(0), signal.SIGKILL)


@case
def environment_killed_mid_task(p, workdir):
    marker = os.path.join(workdir, "environment-killed") if RUNNER == "portable" else None
    return (
        numbers(p, 100)
        | "MaybeKillEnvironment" >> beam.Map(fail_once(marker, kill_execution_environment))
        | beam.Map(lambda x: (x % 7, x))
        | beam.GroupByKey()
        | beam.MapTuple(lambda k, vs: (k, sorted(vs)))
    )


# Long enough that a job waiting for the straggler is plainly distinguishable from one that did not.
STRAGGLER_SECONDS = 45


@case
def straggler(p, workdir):
    """The first attempt of one task stalls (a slow execution environment); a copy does not."""
    started = os.path.join(workdir, "straggler-started") if RUNNER == "portable" else None
    finished = os.path.join(workdir, "straggler-finished")

    def maybe_stall(x):
        if started and x == 3 and not os.path.exists(started):
            open(started, "w").close()
            time.sleep(STRAGGLER_SECONDS)
            open(finished, "w").close()
        return x

    return (
        numbers(p, 40)
        | beam.Reshuffle()
        | "MaybeStall" >> beam.Map(maybe_stall)
        | beam.Map(lambda x: (x % 5, x))
        | beam.GroupByKey()
        | beam.MapTuple(lambda k, vs: (k, sorted(vs)))
    )


@case
def stalls_once_forever(p, workdir):
    """The first attempt of one task stalls for good (a call that never returns); the no-progress
    timeout stops its harness and a retry, finding the marker, goes on."""
    marker = os.path.join(workdir, "stalled-forever") if RUNNER == "portable" else None

    def maybe_stall(x):
        if marker and x == 3 and not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(3600)
        return x

    return (
        numbers(p, 40)
        | beam.Reshuffle()
        | "MaybeStall" >> beam.Map(maybe_stall)
        | beam.Map(lambda x: (x % 5, x))
        | beam.GroupByKey()
        | beam.MapTuple(lambda k, vs: (k, sorted(vs)))
    )


@case
def staged_requirements(p, workdir):
    """Uses a package only --requirements_file provides (not in the project's virtualenv)."""

    def underscore(word):
        import inflection

        return word, inflection.underscore(word)

    return p | beam.Create(["DeviceType", "IOError", "BeamLambdaRunner"]) | beam.Map(underscore)


@case
def min_ram_hinted(p, workdir):
    """One step asks for more memory than a Lambda function has (12 GB > 10,240 MB)."""
    return (
        numbers(p, 50)
        | beam.Map(lambda x: (x % 5, x))
        | beam.GroupByKey()
        | "BigMemory" >> beam.MapTuple(lambda k, vs: (k, sorted(vs), os.getpid())).with_resource_hints(min_ram="12GB")
        | beam.MapTuple(lambda k, vs, pid: (k, vs))
    )


@case
def hot_key_million_values(p, workdir):
    return (
        p
        | beam.Impulse()
        | beam.FlatMap(lambda _: range(1_000_000))
        | beam.Map(lambda x: ("hot", x) if x % 1000 else (f"cold-{x % 7}", x))
        | beam.GroupByKey()
        | beam.MapTuple(lambda k, vs: (k, sum(1 for _ in vs), sum(vs)))
    )


def keyed_over_windows(p, keys=60, per_key=30):
    """Per key, `per_key` values from 0..8 (most repeat), at times 0..per_key-1: three 10-second windows."""
    data = [(f"k{k}", (n * n + k) % 9, n) for k in range(keys) for n in range(per_key)]
    return (
        p
        | beam.Create(data)
        | beam.Map(lambda e: window.TimestampedValue((e[0], e[1]), e[2]))
        | beam.WindowInto(window.FixedWindows(10))
    )


class DistinctPerKey(beam.DoFn):
    """Set state (a bag on the wire in Python): each value the first time a key sees it in a
    window, then the whole set when the window closes."""

    SEEN = SetStateSpec("seen", StrUtf8Coder())
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)

    def process(self, kv, w=beam.DoFn.WindowParam, seen=beam.DoFn.StateParam(SEEN), flush=beam.DoFn.TimerParam(FLUSH)):
        key, value = kv
        if str(value) not in seen.read():
            seen.add(str(value))
            yield ("first", key, value, w.start.micros // 1_000_000)
        flush.set(w.max_timestamp())

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, w=beam.DoFn.WindowParam, seen=beam.DoFn.StateParam(SEEN)):
        yield ("all", key, sorted(seen.read(), key=int), w.start.micros // 1_000_000)
        seen.clear()


@case
def set_state(p, workdir):
    return keyed_over_windows(p) | beam.ParDo(DistinctPerKey())


class EveryStateKind(beam.DoFn):
    """Every user-state kind the Python SDK has that the runner serves, read when the window closes."""

    COUNT = ReadModifyWriteStateSpec("count", VarIntCoder())
    TOTAL = CombiningValueStateSpec("total", sum)
    VALUES = BagStateSpec("values", VarIntCoder())
    RESIDUES = SetStateSpec("residues", VarIntCoder())
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)

    def process(
        self,
        kv,
        w=beam.DoFn.WindowParam,
        count=beam.DoFn.StateParam(COUNT),
        total=beam.DoFn.StateParam(TOTAL),
        values=beam.DoFn.StateParam(VALUES),
        residues=beam.DoFn.StateParam(RESIDUES),
        flush=beam.DoFn.TimerParam(FLUSH),
    ):
        count.write((count.read() or 0) + 1)
        total.add(kv[1])
        values.add(kv[1])
        residues.add(kv[1] % 4)
        flush.set(w.max_timestamp())

    @on_timer(FLUSH)
    def on_flush(
        self,
        key=beam.DoFn.KeyParam,
        w=beam.DoFn.WindowParam,
        count=beam.DoFn.StateParam(COUNT),
        total=beam.DoFn.StateParam(TOTAL),
        values=beam.DoFn.StateParam(VALUES),
        residues=beam.DoFn.StateParam(RESIDUES),
    ):
        yield (key, w.start.micros // 1_000_000, count.read(), total.read(), sorted(values.read()), sorted(residues.read()))
        for state in (count, total, values, residues):
            state.clear()


@case
def every_state_kind(p, workdir):
    return keyed_over_windows(p) | beam.ParDo(EveryStateKind())


class SortedByTimestamp(beam.DoFn):
    """Every ordered-list request the Python harness makes: appends (each element bundle), a read
    of the whole list and of a range, a cleared range (one timer bundle), then a read and a clear
    of what is left (a later timer bundle, so the runner's copy is read, not the harness's)."""

    EVENTS = OrderedListStateSpec("events", StrUtf8Coder())
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)
    LATE = TimerSpec("late", TimeDomain.WATERMARK)

    def process(self, kv, ts=beam.DoFn.TimestampParam, events=beam.DoFn.StateParam(EVENTS), flush=beam.DoFn.TimerParam(FLUSH)):
        events.add((ts, str(kv[1])))
        flush.set(100)

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, events=beam.DoFn.StateParam(EVENTS), late=beam.DoFn.TimerParam(LATE)):
        yield (key, "all", [v for _, v in events.read()])
        yield (key, "[30 s, 40 s)", [v for _, v in events.read_range(Timestamp(30), Timestamp(40))])
        events.clear_range(Timestamp(0), Timestamp(40))
        late.set(200)

    @on_timer(LATE)
    def on_late(self, key=beam.DoFn.KeyParam, events=beam.DoFn.StateParam(EVENTS)):
        yield (key, "after clearing [0 s, 40 s)", [(ts.micros, v) for ts, v in events.read()])
        events.clear()


@case
def ordered_list_state(p, workdir):
    """Ordered-list state: entries added out of timestamp order, read sorted, by range, cleared."""
    data = [(f"k{i % 3}", i) for i in range(30)]
    return p | beam.Create(data) | beam.Map(lambda kv: window.TimestampedValue(kv, 50 - kv[1])) | beam.ParDo(SortedByTimestamp())


# --- Everyday Beam transforms that need processing-time timers, and runner transforms back to back.


def batches_per_key(kv_batches):
    """(key, sorted batch sizes, sorted values): independent of arrival order within a key."""
    key, batches = kv_batches
    return (key, sorted(len(b) for b in batches), sorted(v for b in batches for v in b))


@case
def group_into_batches(p, workdir):
    data = [(f"k{i % 3}", i) for i in range(66)]
    plain = (
        p
        | "Plain" >> beam.Create(data)
        | "PlainBatches" >> beam.GroupIntoBatches(4)
        | "PlainByKey" >> beam.GroupByKey()
        | "PlainFormat" >> beam.Map(lambda kv: ("plain",) + batches_per_key(kv))
    )
    return plain


@case
def group_into_batches_sharded(p, workdir):
    """Sharded keys spread one key over shards chosen per worker: batch sizes may differ between
    runners, so only the values per key and the bound on a batch's size are compared. (A case of
    its own: FnApiRunner itself fails to decode timers when stateful transforms share a pipeline
    with it.)"""
    return (
        p
        | "Sharded" >> beam.Create([(i % 3, i) for i in range(66)])
        | "ShardedBatches" >> beam.GroupIntoBatches.WithShardedKey(4)
        | "ShardedKey" >> beam.Map(lambda kv: (kv[0].key, list(kv[1])))
        | "ShardedByKey" >> beam.GroupByKey()
        | "ShardedFormat" >> beam.MapTuple(lambda k, bs: ("sharded", k, max(len(b) for b in bs) <= 4, sorted(v for b in bs for v in b)))
    )


@case
def stateful_batch_elements(p, workdir):
    """With max_batch_duration_secs, BatchElements keys elements and buffers them in state behind
    a processing-time timer. (A case of its own: FnApiRunner fails to decode timers when two
    stateful transforms share a pipeline.)"""
    batches = p | beam.Create(list(range(50))) | beam.BatchElements(min_batch_size=10, max_batch_size=10, max_batch_duration_secs=3600)
    # How many batches depends on how the input was split into bundles; their bound does not.
    sizes = batches | "Bounded" >> beam.Map(lambda b: ("batch_within_bounds", len(b) <= 10)) | beam.Distinct()
    values = batches | beam.FlatMap(lambda b: b) | beam.combiners.ToList() | beam.Map(lambda vs: ("values", sorted(vs)))
    return (sizes, values) | beam.Flatten()


@case
def runner_transforms_back_to_back(p, workdir):
    data = [(i % 5, i) for i in range(200)]
    g1 = p | "A" >> beam.Create(data) | "GroupA" >> beam.GroupByKey()
    g2 = p | "B" >> beam.Create(data) | "GroupB" >> beam.GroupByKey()
    reshuffled = g1 | "ReshuffleAfterGroup" >> beam.Reshuffle() | "FormatReshuffled" >> beam.MapTuple(lambda k, vs: ("reshuffled", k, sorted(vs)))
    flattened = (g1, g2) | "FlattenGroups" >> beam.Flatten() | "FormatFlattened" >> beam.MapTuple(lambda k, vs: ("flattened", k, sorted(vs)))
    regrouped = (
        g2
        | "GroupAgain" >> beam.GroupByKey()
        | "FormatRegrouped" >> beam.MapTuple(lambda k, groups: ("regrouped", k, sorted(sorted(vs) for vs in groups)))
    )
    grouped_flatten = (
        (p | "C" >> beam.Create(data), p | "D" >> beam.Create([(k, -v) for k, v in data]))
        | "FlattenInputs" >> beam.Flatten()
        | "GroupFlattened" >> beam.GroupByKey()
        | "FormatGroupedFlatten" >> beam.MapTuple(lambda k, vs: ("flatten_then_group", k, sorted(vs)))
    )
    return (reshuffled, flattened, regrouped, grouped_flatten) | "All" >> beam.Flatten()


class CountBundles(beam.DoFn):
    """Emits, per bundle, how many elements it saw: a small input must arrive in one bundle."""

    def start_bundle(self):
        self.seen = 0

    def process(self, x):
        self.seen += 1

    def finish_bundle(self):
        from apache_beam.utils.windowed_value import WindowedValue
        from apache_beam.transforms.window import GlobalWindow

        yield WindowedValue(("bundle", self.seen), 0, [GlobalWindow()])


@case
def small_input_one_bundle(p, workdir):
    batches = (
        p
        | beam.Create(list(range(35)))
        | "Batches" >> beam.BatchElements(min_batch_size=35, max_batch_size=35)
        | "Sizes" >> beam.Map(len)
        | beam.Map(lambda n: ("batch", n))
    )
    bundles = p | "Again" >> beam.Create(list(range(35))) | beam.ParDo(CountBundles())
    return (batches, bundles) | beam.Flatten()


@case
def sessions_many_keys(p, workdir):
    """Hundreds of users whose events chain into sessions (gap 10) or stand apart."""
    rng = random.Random(11)
    events = [(f"user{rng.randrange(400)}", rng.randrange(2000)) for _ in range(6000)]
    return (
        p
        | beam.Create(events)
        | beam.Map(lambda e: window.TimestampedValue(e, e[1]))
        | beam.WindowInto(window.Sessions(10))
        | beam.combiners.Count.PerKey()
        | beam.ParDo(FormatWindow())
    )


# --- Randomized differential cases: windowing x combiner x keys x skew, chosen by a seed.

RANDOM_SEEDS = range(12)


def random_pipeline(p, seed):
    """One pipeline drawn from `seed`: a window function (global, fixed, sliding, sessions), a
    combiner (lifted by the SDK, or by hand after a GroupByKey, which is never lifted), a key
    cardinality and a skew. Integer results only, so every runner's answer is exact."""
    rng = random.Random(seed)
    n = rng.choice([50, 400, 3000])
    keys = rng.choice([1, 7, 60, 500])
    skewed = rng.random() < 0.5
    span = rng.choice([30, 300, 3000])

    def key_of(i):
        # Skewed: about half the elements on key 0, the rest spread (a hot key next to cold ones).
        return 0 if skewed and rng.random() < 0.5 else rng.randrange(keys)

    events = [(f"key{key_of(i)}", rng.randrange(1000), rng.randrange(span)) for i in range(n)]
    window_fn = rng.choice(
        [
            ("global", None),
            ("fixed", window.FixedWindows(rng.choice([5, 60]))),
            ("sliding", window.SlidingWindows(rng.choice([20, 90]), rng.choice([5, 10]))),
            ("sessions", window.Sessions(rng.choice([3, 25]))),
        ]
    )
    combine = rng.choice(["sum", "count", "top3", "grouped_sum", "grouped_sorted"])
    stamped = p | beam.Create(events) | beam.Map(lambda e: window.TimestampedValue((e[0], e[1]), e[2]))
    if window_fn[1] is not None:
        stamped = stamped | beam.WindowInto(window_fn[1])
    if combine == "sum":
        result = stamped | beam.CombinePerKey(sum)
    elif combine == "count":
        result = stamped | beam.combiners.Count.PerKey()
    elif combine == "top3":
        result = stamped | beam.combiners.Top.LargestPerKey(3)
    elif combine == "grouped_sum":
        result = stamped | beam.GroupByKey() | beam.MapTuple(lambda k, vs: (k, sum(vs)))
    else:
        result = stamped | beam.GroupByKey() | beam.MapTuple(lambda k, vs: (k, sorted(vs)))
    label = f"{window_fn[0]}/{combine}/n={n}/keys={keys}/skewed={skewed}"
    return result | beam.ParDo(FormatWindowAny()) | beam.Map(lambda x, label=label: (label,) + x)


class FormatWindowAny(beam.DoFn):
    """(key, value, window bounds): the global window has none."""

    def process(self, kv, w=beam.DoFn.WindowParam):
        bounds = (float(w.start), float(w.end)) if isinstance(w, window.IntervalWindow) else ("global",)
        yield (kv[0], kv[1]) + bounds


for _seed in RANDOM_SEEDS:
    CASES[f"random_{_seed}"] = lambda p, workdir, _seed=_seed: random_pipeline(p, _seed)


@case
def dataframe_read_csv(p, workdir):
    """Beam's DataFrame API: read_csv is a splittable DoFn with a side input, then groupby."""
    from apache_beam.dataframe.convert import to_pcollection
    from apache_beam.dataframe.io import read_csv

    folder = os.path.join(workdir, "csv")
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(3)
    for i in range(3):
        with open(os.path.join(folder, f"part-{i}.csv"), "w") as f:
            f.write("name,amount,qty\n")
            for _ in range(500):
                f.write(f"n{rng.randrange(40)},{rng.randrange(1000)},{rng.randrange(10)}\n")
    df = p | read_csv(os.path.join(folder, "*.csv"))
    totals = df.groupby("name").sum()
    return to_pcollection(totals, include_indexes=True) | beam.Map(lambda row: (row.name, int(row.amount), int(row.qty)))


@case
def batched_inference(p, workdir):
    """GroupIntoBatches into RunInference, as ML pipelines do, with a small model of our own."""
    from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

    class LinearModel:  # RunInference shares the model through a weak reference: a class, not a tuple
        slope, intercept = 3, 1

    class LinearModelHandler(ModelHandler):
        def load_model(self):
            return LinearModel()

        def run_inference(self, batch, model, inference_args=None):
            return [PredictionResult(x, model.slope * x + model.intercept) for x in batch]

    return (
        p
        | beam.Create([(f"device{i % 6}", i) for i in range(240)])
        | beam.GroupIntoBatches(8)
        | beam.FlatMap(lambda kv: [(kv[0], x) for x in kv[1]])
        | RunInference(KeyedModelHandler(LinearModelHandler()))
        | beam.MapTuple(lambda key, result: (key, result.example, result.inference))
    )
# Custom merging WindowFns: only the SDK can run their merge, so the runner asks it to
# (beam:transform:merge_windows:v1). Each case prints the groups with their windows and timestamps.


class FormatWindowAndTime(beam.DoFn):
    def process(self, kv, w=beam.DoFn.WindowParam, ts=beam.DoFn.TimestampParam):
        k, v = kv
        yield (k, sorted(v) if isinstance(v, (list, tuple)) or hasattr(v, "__iter__") else v, float(w.start), float(w.end), float(ts))


class EvenStartsMergingWindowFn(window.WindowFn):
    """Beam's own test WindowFn (fn_runner_test.CustomMergingWindowFn): 1000 s windows, of which
    those starting at an even second merge into one."""

    def assign(self, context):
        return [window.IntervalWindow(context.timestamp, context.timestamp + 1000)]

    def merge(self, merge_context):
        evens = [w for w in merge_context.windows if w.start % 2 == 0]
        if evens:
            merge_context.merge(evens, window.IntervalWindow(min(w.start for w in evens), max(w.end for w in evens)))

    def get_window_coder(self):
        return beam.coders.coders.IntervalWindowCoder()


@case
def custom_merging_window(p, workdir):
    return (
        p
        | beam.Create([1, 2, 100, 101, 102])
        | beam.Map(lambda t: window.TimestampedValue(("k", t), t))
        | beam.WindowInto(EvenStartsMergingWindowFn())
        | beam.GroupByKey()
        | beam.ParDo(FormatWindowAndTime())
    )


class SameParityMergingWindowFn(window.WindowFn):
    """One-second windows; of one key's windows, all that start at an even second merge into one
    spanning them, and so do all that start at an odd second."""

    def assign(self, context):
        return [window.IntervalWindow(context.timestamp, context.timestamp + 1)]

    def merge(self, merge_context):
        for parity in (0, 1):
            same = [w for w in merge_context.windows if int(w.start) % 2 == parity]
            if len(same) > 1:
                merge_context.merge(same, window.IntervalWindow(min(w.start for w in same), max(w.end for w in same)))

    def get_window_coder(self):
        return beam.coders.coders.IntervalWindowCoder()


def keyed_events(p, label, keys, per_key, seed):
    rng = random.Random(seed)
    events = [(f"user-{k:03d}", rng.randrange(0, 600)) for k in range(keys) for _ in range(rng.randint(1, per_key))]
    return p | label >> beam.Create(events) | f"{label}Stamp" >> beam.Map(lambda kv: window.TimestampedValue(kv, kv[1]))


@case
def merging_windows_by_parity(p, workdir):
    return (
        keyed_events(p, "Events", keys=400, per_key=12, seed=11)
        | beam.WindowInto(SameParityMergingWindowFn())
        | beam.GroupByKey()
        | beam.ParDo(FormatWindowAndTime())
    )


class BoundedSessions(window.WindowFn):
    """Sessions with a gap, cut where a session would pass a maximum length (the "bounded
    sessions" of Streaming Systems, chapter 4)."""

    def __init__(self, gap, max_length):
        self.gap = gap
        self.max_length = max_length

    def assign(self, context):
        return [window.IntervalWindow(context.timestamp, context.timestamp + self.gap)]

    def merge(self, merge_context):
        run, start, end = [], None, None
        for w in sorted(merge_context.windows, key=lambda w: w.start):
            if run and w.start < end and max(end, w.end) - start <= self.max_length:
                run.append(w)
                end = max(end, w.end)
                continue
            if len(run) > 1:
                merge_context.merge(run, window.IntervalWindow(start, end))
            run, start, end = [w], w.start, w.end
        if len(run) > 1:
            merge_context.merge(run, window.IntervalWindow(start, end))

    def get_window_coder(self):
        return beam.coders.coders.IntervalWindowCoder()


@case
def bounded_sessions(p, workdir):
    events = keyed_events(p, "Events", keys=300, per_key=20, seed=12)
    grouped = (
        events
        | "Window" >> beam.WindowInto(BoundedSessions(gap=15, max_length=60), timestamp_combiner=window.TimestampCombiner.OUTPUT_AT_EARLIEST)
        | "Group" >> beam.GroupByKey()
        | "FormatGroups" >> beam.ParDo(FormatWindowAndTime())
        | "TagGroups" >> beam.Map(lambda x: ("group",) + x)
    )
    summed = (
        events
        | "WindowSum" >> beam.WindowInto(BoundedSessions(gap=15, max_length=60))
        | "Sum" >> beam.CombinePerKey(sum)
        | "FormatSums" >> beam.ParDo(FormatWindowAndTime())
        | "TagSums" >> beam.Map(lambda x: ("sum",) + x)
    )
    # Back to the global window before the Flatten: its inputs must share one windowing.
    return (
        grouped | "GlobalGroups" >> beam.WindowInto(window.GlobalWindows()),
        summed | "GlobalSums" >> beam.WindowInto(window.GlobalWindows()),
    ) | beam.Flatten()


# --- Data in S3 (LocalStack in the tests): BEAM_LAMBDA_TEST_S3 names an s3://bucket/prefix the
# case may write under. The client uploads inputs with boto3; the workers' harnesses read and
# write s3:// paths through Beam's S3 filesystem, with boto3's default credentials chain.


def s3_prefix(name):
    base = os.environ.get("BEAM_LAMBDA_TEST_S3")
    if not base:
        raise RuntimeError("set BEAM_LAMBDA_TEST_S3=s3://bucket/prefix for the S3 cases")
    return f"{base.rstrip('/')}/{RUNNER}/{name}/{int(time.time() * 1000)}"


def put_s3(url, body):
    import boto3

    bucket, key = url[len("s3://"):].split("/", 1)
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


@case
def s3_wordcount(p, workdir):
    prefix = s3_prefix("wordcount")
    rng = random.Random(5)
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    for i in range(3):
        put_s3(f"{prefix}/in/part-{i}.txt", "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(1, 8))) for _ in range(200)))
    out = f"{prefix}/out/counts"
    written = (
        p
        | beam.io.ReadFromText(f"{prefix}/in/*.txt")
        | beam.FlatMap(str.split)
        | beam.combiners.Count.PerElement()
        | beam.MapTuple(lambda w, c: f"{w}\t{c}")
        | beam.io.WriteToText(out)
    )

    def read_back(_, pattern):
        from apache_beam.io.filesystems import FileSystems

        paths = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
        return [line for path in paths for line in FileSystems.open(path).read().decode().splitlines()]

    # Read back from S3, in the harness, what the file sink wrote there.
    return written | beam.combiners.Count.Globally() | beam.FlatMap(read_back, out + "*")


@case
def s3_dataframe_read_csv(p, workdir):
    from apache_beam.dataframe.convert import to_pcollection
    from apache_beam.dataframe.io import read_csv

    prefix = s3_prefix("dataframe")
    rng = random.Random(9)
    for i in range(2):
        rows = "".join(f"n{rng.randrange(20)},{rng.randrange(1000)}\n" for _ in range(300))
        put_s3(f"{prefix}/csv/part-{i}.csv", "name,amount\n" + rows)
    totals = (p | read_csv(f"{prefix}/csv/*.csv")).groupby("name").sum()
    return to_pcollection(totals, include_indexes=True) | beam.Map(lambda row: (row.name, int(row.amount)))


@case
def s3_sklearn_inference(p, workdir):
    """RunInference with a scikit-learn model the client trained and put in S3 (model_uri s3://)."""
    import pickle

    import numpy
    from apache_beam.ml.inference.base import RunInference
    from apache_beam.ml.inference.sklearn_inference import SklearnModelHandlerNumpy
    from sklearn.linear_model import LinearRegression

    prefix = s3_prefix("sklearn")
    x = numpy.arange(40, dtype=float).reshape(-1, 2)
    model = LinearRegression().fit(x, x @ numpy.array([2.0, -1.0]) + 3.0)
    put_s3(f"{prefix}/model.pkl", pickle.dumps(model))
    examples = [numpy.array([float(i), float(i % 7)]) for i in range(60)]
    return (
        p
        | beam.Create(examples)
        | RunInference(SklearnModelHandlerNumpy(model_uri=f"{prefix}/model.pkl"))
        | beam.Map(lambda r: (r.example.tolist(), round(float(r.inference), 6)))
    )


# Long enough that the test sees the stall and kills the container long before it would end.
STALL_SECONDS = 600


@case
def s3_container_killed_mid_task(p, workdir):
    """The first attempt of one task stalls after leaving a marker in S3; the test then kills the
    container it runs in. The retry, in another container, finds the marker and goes on. (A marker
    in S3, not in the workdir: the containers do not share this machine's file system.)"""
    marker = f"{s3_prefix('stall')}/stalled" if RUNNER == "portable" else None

    def maybe_stall(x):
        from apache_beam.io.filesystems import FileSystems

        if marker and x == 3 and not FileSystems.exists(marker):
            with FileSystems.create(marker) as f:
                f.write(b"stalled")
            time.sleep(STALL_SECONDS)
        return x

    return (
        numbers(p, 100)
        | "MaybeStall" >> beam.Map(maybe_stall)
        | beam.Map(lambda x: (x % 7, x))
        | beam.GroupByKey()
        | beam.MapTuple(lambda k, vs: (k, sorted(vs)))
    )


@case
def where_the_harness_runs(p, workdir):
    """What each task's harness sees of its execution environment: its Python environment, its
    Beam, and whether the function's code is in Lambda's task root. Not for comparing runners."""
    import sys

    def probe(_):
        import apache_beam

        return (sys.prefix, apache_beam.__version__, os.path.exists("/var/task/index.mjs"), os.environ.get("LAMBDA_TASK_ROOT"))

    return numbers(p, 20) | beam.Map(probe) | beam.Distinct()
