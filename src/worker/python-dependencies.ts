// Installs what a Python pipeline staged for its workers, as Beam's Python container does at
// boot: packages listed in extra_packages.txt (--extra_package), the setup-file tarball
// workflow.tar.gz (--setup_file), then requirements.txt (--requirements_file, with the packages
// the SDK downloaded staged beside it). They go into a job-local virtualenv layered over the
// harness's interpreter, so apache-beam and what is already installed are reused, not copied,
// and nothing is written outside the harness's directory (on Lambda only /tmp is writable).
import { execFile } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

const EXTRA_PACKAGES_FILE = "extra_packages.txt";
const WORKFLOW_TARBALL_FILE = "workflow.tar.gz";
const REQUIREMENTS_FILE = "requirements.txt";

export class DependencyInstallError extends Error {
  override name = "DependencyInstallError";
}

/**
 * Installs the staged dependencies in `stagedDir`, if any, and returns the interpreter that sees
 * them; returns `python` itself when nothing was staged.
 */
export async function installStagedDependencies(python: string, stagedDir: string, workDir: string): Promise<string> {
  const staged = new Set(await readdir(stagedDir));
  if (![EXTRA_PACKAGES_FILE, WORKFLOW_TARBALL_FILE, REQUIREMENTS_FILE].some((f) => staged.has(f))) return python;

  const venv = join(workDir, "venv");
  await step("create a virtualenv", python, ["-m", "venv", "--without-pip", venv]);
  const venvPython = join(venv, "bin", "python");
  // The base interpreter's site-packages, visible from the virtualenv through a .pth file.
  const [{ stdout: baseSites }, { stdout: venvSite }] = await Promise.all([
    run(python, ["-c", "import site, sys; print('\\n'.join(p for p in sys.path if p.endswith(('site-packages', 'dist-packages'))))"]),
    run(venvPython, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]),
  ]);
  await writeFile(join(venvSite.trim(), "beam_lambda_base.pth"), baseSites);
  // The base interpreter's pip installs into the virtualenv, seeing what the base already has.
  const pip = (...args: string[]) =>
    step(`pip install ${args.join(" ")}`, python, ["-m", "pip", "--python", venvPython, "install", "--disable-pip-version-check", "--no-warn-script-location", "-q", ...args]);

  if (staged.has(EXTRA_PACKAGES_FILE)) {
    const manifest = await readFile(join(stagedDir, EXTRA_PACKAGES_FILE), "utf8");
    for (const name of manifest.split("\n").map((l) => l.trim()).filter(Boolean)) {
      if (!staged.has(name)) throw new DependencyInstallError(`extra package '${name}' is listed in ${EXTRA_PACKAGES_FILE} but was not staged`);
      await pip(join(stagedDir, name));
    }
  }
  if (staged.has(WORKFLOW_TARBALL_FILE)) await pip(join(stagedDir, WORKFLOW_TARBALL_FILE));
  if (staged.has(REQUIREMENTS_FILE)) {
    const requirements = join(stagedDir, REQUIREMENTS_FILE);
    // First only what was staged, without dependencies (no index needed); then the rest, which is
    // a no-op when the SDK staged everything.
    await pip("-r", requirements, "--no-index", "--no-deps", "--find-links", stagedDir);
    await pip("-r", requirements, "--find-links", stagedDir);
  }
  return venvPython;
}

async function step(what: string, file: string, args: string[]): Promise<void> {
  try {
    await run(file, args, { maxBuffer: 16 << 20 });
  } catch (e) {
    const { stderr = "", stdout = "" } = e as { stderr?: string; stdout?: string };
    const tail = `${stdout}${stderr}`.trim().split("\n").slice(-15).join("\n");
    throw new DependencyInstallError(`installing the pipeline's staged dependencies failed at '${what}':\n${tail}`);
  }
}
