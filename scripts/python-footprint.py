#!/usr/bin/env python3
"""The Python footprint of the worker image: the installed size of requirements/worker.lock.

    python3 scripts/python-footprint.py [--lock requirements/worker.lock] [--top 10]

Installs the lock, as the Dockerfiles do (`pip install --no-cache-dir -r`, which also writes .pyc
files), into a scratch virtualenv (.cache/footprint-venv, reinstalled when the lock changes), then
sums, per distribution of the lock, the sizes of the files its RECORD lists (importlib.metadata),
and prints the total and the largest packages. The numbers go in cdk/README.md ("Image size").
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_IMAGE_LIMIT = 10 * 1024**3  # Lambda's limit for a container image, uncompressed, all layers


def pins(lock: Path) -> dict[str, str]:
    out = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out[name] = version
    return out


def ensure_venv(venv: Path, lock: Path) -> Path:
    python = venv / "bin" / "python"
    want = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = venv / ".lock.sha256"
    if not python.exists() or not stamp.exists() or stamp.read_text().strip() != want:
        print(f"footprint: installing {lock.relative_to(ROOT)} into {venv.relative_to(ROOT)}", file=sys.stderr)
        if venv.exists():
            shutil.rmtree(venv)  # a scratch virtualenv of this script's own, never the project's .venv
        base = shutil.which("python3.11") or sys.executable
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-cache-dir", "-r", str(lock)], check=True)
        stamp.write_text(want + "\n")
    return python


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def measure(lock: Path, top: int) -> None:
    import importlib.metadata as md
    import sysconfig

    seen: set[str] = set()
    sizes: dict[str, int] = {}
    problems = []
    for name, version in pins(lock).items():
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            problems.append(f"{name}: not installed")
            continue
        if dist.version != version:
            problems.append(f"{name}: lock {version}, installed {dist.version}")
        total = 0
        for f in dist.files or []:
            path = os.path.realpath(dist.locate_file(f))
            if path in seen or not os.path.isfile(path):
                continue
            seen.add(path)
            total += os.path.getsize(path)
        sizes[f"{name}=={version}"] = total
    if problems:
        sys.exit("footprint: the virtualenv differs from the lock:\n  " + "\n  ".join(problems))

    mib = lambda n: f"{n / 1024**2:8.1f} MiB"  # noqa: E731
    total = sum(sizes.values())
    site = Path(sysconfig.get_paths()["purelib"])
    print(f"{lock.relative_to(ROOT)}: {len(sizes)} packages, installed size {mib(total).strip()} "
          f"({total / LAMBDA_IMAGE_LIMIT:.1%} of Lambda's 10 GiB image limit)")
    print(f"site-packages on disk (with pip, setuptools and __pycache__ of the venv): {mib(dir_size(site)).strip()}")
    print(f"largest {top}:")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {mib(size)}  {size / total:5.1%}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements" / "worker.lock")
    parser.add_argument("--venv", type=Path, default=ROOT / ".cache" / "footprint-venv")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    lock = args.lock.resolve()
    if args.measure:
        measure(lock, args.top)
        return
    python = ensure_venv(args.venv.resolve(), lock)
    subprocess.run([str(python), __file__, "--measure", "--lock", str(lock), "--top", str(args.top)], check=True)


if __name__ == "__main__":
    main()
