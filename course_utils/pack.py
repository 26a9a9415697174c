"""One file of trained models for a class: ``make pretrain`` packs them, an instructor installs them.

    python -m course_utils.pack create CHECKPOINTS_DIR PACK.tar [--log USED.txt] [--profile cpu]
    python -m course_utils.pack verify PACK.tar
    python -m course_utils.pack install PACK.tar FOLDER

A pack is a tar file: ``MANIFEST.json`` first (profile, torch version, and for each checkpoint its
path under the checkpoint folder, size and SHA-256), then the checkpoints. ``install`` checks every
file against the manifest before it is renamed into place (written with ``paths.atomic_write``,
so mode 0666 less the umask: readable by a class when the umask is 022), skips files already there
with the same content, and never replaces a different one. Students then point
``COURSE_CHECKPOINT_DIR`` at the folder and a folder of their own: ``FOLDER:~/course-checkpoints``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
import time
from pathlib import Path, PurePosixPath

from .paths import atomic_write

MANIFEST = "MANIFEST.json"


class PackError(ValueError):
    """A pack that is damaged, not a pack, or holds an unsafe path; the message says which file."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _used(root: Path, log: Path | None) -> list[Path]:
    """The checkpoint files to pack: those a run used (the log), or every .pt under ``root``."""
    if log is None:
        files = [p for p in root.rglob("*.pt") if ".unused-" not in p.name]
    else:
        files = []
        for line in log.read_text(encoding="utf-8").splitlines():
            p = Path(line.strip())
            if line.strip() and p.is_relative_to(root) and p.exists() and p not in files:
                files.append(p)
    return sorted(files)


def create(root: Path, out: Path, *, log: Path | None = None, profile: str | None = None) -> dict:
    """Pack the checkpoints under ``root`` (those listed in ``log`` if given) into ``out``; returns the manifest."""
    import torch

    files = _used(root, log)
    if not files:
        raise PackError(f"no checkpoint to pack under {root}" + (f" (none listed in {log})" if log else ""))
    entries = {}
    blobs = {}
    for path in files:
        name = path.relative_to(root).as_posix()
        data = path.read_bytes()
        entries[name] = {"size": len(data), "sha256": _sha256(data)}
        blobs[name] = data
    manifest = {"format": 1, "profile": profile, "torch": torch.__version__, "created": time.strftime("%Y-%m-%d"),
                "files": entries}

    def write(f):
        with tarfile.open(fileobj=f, mode="w") as tar:
            for name, data in [(MANIFEST, json.dumps(manifest, indent=1).encode()), *blobs.items()]:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(data))

    atomic_write(out, write)
    return manifest


def read(pack: Path) -> tuple[dict, dict[str, bytes]]:
    """A pack's manifest and files, every file checked against the manifest (PackError naming what is wrong)."""
    try:
        tar = tarfile.open(pack, mode="r")
    except (tarfile.TarError, OSError) as err:
        raise PackError(f"{pack} is not a readable pack ({type(err).__name__}: {err})") from err
    blobs: dict[str, bytes] = {}
    with tar:
        try:
            first = tar.next()
            if first is None or first.name != MANIFEST:
                raise PackError(f"{pack} is not a pack of course models: its first file is not {MANIFEST}")
            manifest = json.loads(tar.extractfile(first).read())
            files = manifest["files"]
            for member in tar:  # (iterating a TarFile starts again from its first member)
                name = member.name
                if member is first:
                    continue
                parts = PurePosixPath(name).parts
                if not member.isfile() or name.startswith("/") or ".." in parts or not name.endswith(".pt"):
                    raise PackError(f"{pack}: unsafe or unexpected member {name!r}")
                if name not in files:
                    raise PackError(f"{pack}: {name} is not in the manifest")
                data = tar.extractfile(member).read()
                if len(data) != files[name]["size"] or _sha256(data) != files[name]["sha256"]:
                    raise PackError(f"{pack}: {name} does not match its checksum (a damaged copy): copy the pack again")
                blobs[name] = data
        except PackError:
            raise
        except (tarfile.TarError, EOFError, OSError, ValueError, KeyError, TypeError) as err:
            raise PackError(f"{pack} is damaged ({type(err).__name__}: {err}): copy the pack again") from err
    missing = sorted(set(files) - set(blobs))
    if missing:
        raise PackError(f"{pack} is cut short: {len(missing)} file(s) of its manifest are missing, e.g. "
                        f"{missing[0]}: copy the pack again")
    if not blobs:
        raise PackError(f"{pack} holds no checkpoint")
    return manifest, blobs


def verify(pack: Path) -> dict:
    """Check every file of a pack against its manifest; returns the manifest (PackError if damaged)."""
    return read(pack)[0]


def install(pack: Path, folder: Path) -> tuple[int, int]:
    """Install a verified pack into ``folder``; returns (files written, files already there).

    The whole pack is verified first, so a damaged pack installs nothing. A file already there with
    other content is left alone and named (keys are content hashes, so it is rare).
    """
    _manifest, blobs = read(pack)
    written = same = 0
    for name, data in blobs.items():
        target = folder / name
        if target.exists():
            if target.read_bytes() == data:
                same += 1
            else:
                print(f"[pack] {target} exists with other content: left as it is", file=sys.stderr)
            continue
        atomic_write(target, data)
        written += 1
    return written, same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create")
    c.add_argument("root", type=Path)
    c.add_argument("out", type=Path)
    c.add_argument("--log", type=Path)
    c.add_argument("--profile")
    v = sub.add_parser("verify")
    v.add_argument("pack", type=Path)
    i = sub.add_parser("install")
    i.add_argument("pack", type=Path)
    i.add_argument("folder", type=Path)
    args = parser.parse_args()
    try:
        if args.command == "create":
            m = create(args.root, args.out, log=args.log, profile=args.profile)
            size = args.out.stat().st_size
            print(f"{args.out}: {len(m['files'])} checkpoints, {size / 2**20:.1f} MiB ({size:,} bytes), "
                  f"profile {m['profile']}, SHA-256 of each in {MANIFEST}")
        elif args.command == "verify":
            m = verify(args.pack)
            print(f"{args.pack}: {len(m['files'])} checkpoints, every checksum matches (profile {m['profile']})")
        else:
            written, same = install(args.pack, args.folder)
            print(f"{args.pack} -> {args.folder}: {written} checkpoint(s) installed, {same} already there. Students: "
                  f"COURSE_CHECKPOINT_DIR={args.folder}:~/course-checkpoints")
    except PackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
