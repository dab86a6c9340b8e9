// CPU seconds used by the driver (this process), the emulator's process and LocalStack's (each
// with its descendants), and the whole machine, read from /proc like pidstat does, so a run can
// say which of them saturated.
import { existsSync, readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second of /proc's times (USER_HZ; 100 on Linux). */
const TICKS = 100;

export interface CpuReading {
  driver: number;
  emulator: number;
  localstack: number;
  machine: number;
}

/** LocalStack's process: the pid localstack/start.sh recorded, else the one running its main module. */
export function localStackPid(): number | undefined {
  const recorded = ".cache/localstack.pid";
  if (existsSync(recorded)) {
    const pid = Number(readFileSync(recorded, "utf8").trim());
    if (existsSync(`/proc/${pid}`)) return pid;
  }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("localstack.runtime.main")) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

/** utime + stime (seconds), and the parent, of every process. */
function processTimes(): Map<number, { parent: number; seconds: number }> {
  const times = new Map<number, { parent: number; seconds: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name, which is in parentheses and may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      times.set(Number(entry), { parent: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS });
    } catch {
      // Gone meanwhile.
    }
  }
  return times;
}

/** CPU seconds of `root` and its living descendants. */
function treeSeconds(times: Map<number, { parent: number; seconds: number }>, root: number | undefined): number {
  if (root === undefined) return 0;
  let total = 0;
  for (const [pid, t] of times) {
    for (let p: number | undefined = pid; p !== undefined && p > 1; p = times.get(p)?.parent) {
      if (p === root) {
        total += t.seconds;
        break;
      }
    }
  }
  return total;
}

function machineSeconds(): number {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system (idle iowait) irq softirq steal: everything but idle and iowait.
  const busy = cpu.reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!;
  return busy / TICKS;
}

export class CpuMeter {
  constructor(private readonly pids: { emulator: number; localstack?: number }) {}

  read(): CpuReading {
    const times = processTimes();
    const { user, system } = process.cpuUsage();
    return {
      driver: (user + system) / 1e6,
      emulator: treeSeconds(times, this.pids.emulator),
      localstack: treeSeconds(times, this.pids.localstack),
      machine: machineSeconds(),
    };
  }

  between(from: CpuReading, to: CpuReading): CpuReading {
    return {
      driver: to.driver - from.driver,
      emulator: to.emulator - from.emulator,
      localstack: to.localstack - from.localstack,
      machine: to.machine - from.machine,
    };
  }
}
