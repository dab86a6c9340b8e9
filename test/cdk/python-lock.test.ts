// One pinned Python environment for the SDK harness: both Docker images pip-install
// requirements/worker.lock and nothing else, the lock has what workers need (apache-beam 2.77.0
// with boto3 for S3, pandas, pyarrow, scikit-learn), and the project's .venv, which the tests
// run the harness from, has exactly the lock's versions, so the tested harness is the deployed one.
// No Docker here: the Dockerfiles are read, not built.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const LOCK = "requirements/worker.lock";
const dockerDir = join(root, "cdk", "docker");
const dockerfiles = readdirSync(dockerDir).filter((f) => f.endsWith(".Dockerfile") || f === "Dockerfile");

/** PEP 503's normalized name: "PyHamcrest" and "pyhamcrest", "typing_extensions" and "typing-extensions" are one. */
const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

/** The `name==version` pins of a requirements file; any other non-comment line is an error. */
function parsePins(text: string, file: string): Map<string, string> {
  const pins = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (!line) continue;
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$/.exec(line);
    if (!m) throw new Error(`${file}: not an exact name==version pin: ${JSON.stringify(raw)}`);
    const name = normalize(m[1]!);
    if (pins.has(name)) throw new Error(`${file}: ${name} is pinned twice`);
    pins.set(name, m[2]!);
  }
  return pins;
}

/** A Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const joined = text
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

// Python packages that OS package managers may install: the interpreter, venv and pip, no library.
const OS_PYTHON_PACKAGES = new Set(["python3", "python3-venv", "python3.11", "python3.11-pip"]);
const PIP_FLAGS = new Set(["--no-cache-dir", "--quiet", "-q", "--disable-pip-version-check"]);

/**
 * What a Dockerfile installs Python-wise, as problems: every pip install must be exactly
 * `pip install [flags] -r <the copied requirements/worker.lock>`, no other Python installer may
 * run, and OS packages named python* must be the interpreter's.
 */
function dockerfileProblems(text: string): { problems: string[]; lockInstalls: number } {
  const problems: string[] = [];
  let workdir = "/";
  const lockCopies = new Set<string>();
  let lockInstalls = 0;
  const stageStart = () => {
    workdir = "/";
    lockCopies.clear();
  };
  for (const { op, args } of instructions(text)) {
    if (op === "FROM") stageStart();
    else if (op === "WORKDIR") workdir = posix.resolve(workdir, args);
    else if (op === "COPY" || op === "ADD") {
      const parts = args.split(/\s+/).filter((p) => !p.startsWith("--"));
      const dest = parts.at(-1)!;
      const sources = parts.slice(0, -1).map((s) => posix.normalize(s));
      if (/\brequirements\b/.test(args) && !args.includes("--from")) {
        for (const s of sources) {
          if (s !== LOCK) problems.push(`${op} ${args}: copies ${s}; only ${LOCK} is a Python requirements input`);
        }
      }
      if (sources.includes(LOCK)) {
        const abs = posix.resolve(workdir, dest);
        lockCopies.add(dest.endsWith("/") ? posix.join(abs, "worker.lock") : abs);
      }
    } else if (op === "RUN") {
      for (const cmd of args.split(/&&|\|\||;/).map((c) => c.trim())) {
        const words = cmd.split(/\s+/);
        const command = words[0] ?? "";
        const isPip = /(^|\/)pip3?(\.\d+)?$/.test(command) || (/(^|\/)python[\d.]*$/.test(command) && words[1] === "-m" && words[2] === "pip");
        if (/\b(uv|pipx|conda|mamba|micromamba|easy_install|poetry|pdm)\b/.test(command) || (/\bsetup\.py\b/.test(cmd) && /\binstall\b/.test(cmd))) {
          problems.push(`RUN ${cmd}: installs Python packages other than through pip install -r ${LOCK}`);
          continue;
        }
        if (isPip) {
          const rest = words.slice(command.includes("python") ? 3 : 1);
          if (rest[0] !== "install") {
            if (["download", "wheel"].includes(rest[0] ?? "")) problems.push(`RUN ${cmd}: pip ${rest[0]} is not allowed`);
            continue;
          }
          const args = rest.slice(1);
          const req: string[] = [];
          for (let i = 0; i < args.length; i++) {
            if (args[i] === "-r" || args[i] === "--requirement") req.push(args[++i] ?? "");
            else if (!PIP_FLAGS.has(args[i]!)) problems.push(`RUN ${cmd}: installs ${JSON.stringify(args[i])}, which is not the lock file`);
          }
          if (req.length !== 1) problems.push(`RUN ${cmd}: must install exactly one requirements file, ${LOCK}`);
          for (const r of req) {
            if (!lockCopies.has(posix.resolve(workdir, r))) problems.push(`RUN ${cmd}: -r ${r} is not the ${LOCK} copied into this stage`);
            else lockInstalls++;
          }
          continue;
        }
        if (/^(apt-get|apt|dnf|yum|microdnf|apk)$/.test(command) && words.includes("install")) {
          for (const pkg of words.filter((w) => /^py(thon)?/i.test(w))) {
            if (!OS_PYTHON_PACKAGES.has(pkg)) problems.push(`RUN ${cmd}: the OS package ${pkg} is a Python library outside the lock`);
          }
        }
      }
    }
  }
  return { problems, lockInstalls };
}

const lockText = readFileSync(join(root, LOCK), "utf8");
const lock = parsePins(lockText, LOCK);

describe("the Docker images' Python environment", () => {
  it("finds both Dockerfiles", () => {
    expect(dockerfiles.sort()).toEqual(["job-server.Dockerfile", "worker.Dockerfile"]);
  });

  for (const file of dockerfiles) {
    it(`${file} pip-installs requirements/worker.lock and nothing else`, () => {
      const { problems, lockInstalls } = dockerfileProblems(readFileSync(join(dockerDir, file), "utf8"));
      expect(problems).toEqual([]);
      expect(lockInstalls).toBe(1);
    });
  }

  it("the check itself rejects a bare package, a second requirements file and a Python OS package", () => {
    const base = "FROM x\nWORKDIR /app\nCOPY requirements/worker.lock ./requirements/worker.lock\n";
    const ok = dockerfileProblems(`${base}RUN python3 -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements/worker.lock\n`);
    expect(ok).toEqual({ problems: [], lockInstalls: 1 });
    for (const bad of [
      `RUN .venv/bin/pip install --no-cache-dir -r requirements/worker.lock boto3\n`,
      `RUN .venv/bin/pip install --no-cache-dir \\\n  -r requirements/worker.lock && .venv/bin/pip install "apache-beam==2.77.0"\n`,
      `COPY requirements.txt ./\nRUN .venv/bin/python -m pip install -r requirements.txt\n`,
      `RUN .venv/bin/pip install -r /elsewhere/worker.lock\n`,
      `RUN apt-get install -y python3-numpy\n`,
      `RUN uv pip install -r requirements/worker.lock\n`,
    ]) {
      expect(dockerfileProblems(base + bad).problems, bad).not.toEqual([]);
    }
  });
});

describe("requirements/worker.lock", () => {
  it("pins every package exactly, with no options, indexes or hashes", () => {
    expect(lock.size).toBeGreaterThan(20);
    expect(lockText).not.toMatch(/--hash|--index-url|--extra-index-url|--find-links|^-[re] /m);
  });

  it("has apache-beam 2.77.0 with boto3, pandas (within Beam's <2.4), pyarrow and scikit-learn", () => {
    expect(lock.get("apache-beam")).toBe("2.77.0");
    for (const name of ["boto3", "botocore", "s3transfer", "pandas", "pyarrow", "numpy", "scikit-learn", "scipy", "joblib"]) {
      expect(lock.has(name), name).toBe(true);
    }
    const [major, minor] = lock.get("pandas")!.split(".").map(Number);
    expect(major! * 100 + minor!).toBeLessThan(204);
  });

  it("has every requirement that worker.in names (re-run scripts/lock-python.sh after editing it)", () => {
    const wanted = readFileSync(join(root, "requirements", "worker.in"), "utf8")
      .split("\n")
      .map((l) => l.replace(/#.*$/, "").trim())
      .filter(Boolean)
      .map((l) => normalize(/^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(l)![0]));
    expect(wanted).toContain("apache-beam");
    expect(wanted.filter((n) => !lock.has(n))).toEqual([]);
  });

  it("requirements/test.txt includes the lock and pins only what the lock lacks", () => {
    const text = readFileSync(join(root, "requirements", "test.txt"), "utf8");
    const lines = text.split("\n").map((l) => l.replace(/(^|\s)#.*$/, "").trim());
    expect(lines.filter((l) => l.startsWith("-"))).toEqual(["-r worker.lock"]);
    const testPins = parsePins(lines.filter((l) => !l.startsWith("-")).join("\n"), "requirements/test.txt");
    expect([...testPins.keys()].filter((n) => lock.has(n))).toEqual([]);
  });
});

describe("the project's .venv", () => {
  it("has exactly the lock's version of every package in the lock (scripts/setup.sh syncs it)", () => {
    const python = join(root, ".venv", "bin", "python");
    expect(existsSync(python), "no .venv: run bash scripts/setup.sh").toBe(true);
    const installed = new Map<string, string>(
      Object.entries(
        JSON.parse(
          execFileSync(python, ["-c", "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"], {
            encoding: "utf8",
          }),
        ) as Record<string, string>,
      ).map(([name, version]) => [normalize(name), version]),
    );
    const differing = [...lock].filter(([name, version]) => installed.get(name) !== version).map(([name, version]) => `${name}: lock ${version}, .venv ${installed.get(name) ?? "missing"}`);
    expect(differing).toEqual([]);
  });
});
