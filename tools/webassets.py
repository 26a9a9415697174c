"""The web files that static slides, HTML pages and the site load: local copies, never a CDN.

    python tools/webassets.py install   # npm pack the pinned packages into the asset folder (make setup)
    python tools/webassets.py check     # say what is missing (exit 1), or where the files are

nbconvert's templates load reveal.js, require.js, the widget manager and MathJax from CDNs; offline,
a deck is then one long unstyled page with raw LaTeX and blank widgets. The course renders with:

- reveal.js, require.js and @jupyter-widgets/html-manager: npm packages at pinned versions, checked
  against their registry integrity (sha512), unpacked once by `make setup` into the asset folder
  ($COURSE_WEB_ASSETS, else <venv>/share/course-web: it goes with the venv, `make clean` keeps it);
- MathJax 2: the files of the pip package jupyter-server-mathjax (requirements.txt).

:func:`stage` copies what a page needs into ``<output folder>/_static/`` and returns the relative
URLs, so that a folder of pages (build/slides/, build/executed/) can be copied anywhere and opened
from disk.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: npm packages (name@version) and the sha512 integrity the npm registry publishes for each tarball.
PACKAGES = {
    "reveal.js@5.2.1":
        "sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ==",
    # ipywidgets 8.1.9's static manager: @jupyter-widgets/base 6.0.12 and controls 5.0.13, the versions
    # of the jupyterlab_widgets 3.0.17 that requirements.txt installs
    "@jupyter-widgets/html-manager@1.0.15":
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    "requirejs@2.3.8":
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
}

#: What each package contributes: (path inside its tarball, path under the asset folder).
FILES = {
    "reveal.js": [("package/dist", "reveal.js/dist"), ("package/plugin/notes", "reveal.js/plugin/notes"),
                  ("package/LICENSE", "reveal.js/LICENSE")],
    "@jupyter-widgets/html-manager": [("package/dist", "html-manager")],
    "requirejs": [("package/require.js", "require.js")],
}
SKIP_SUFFIXES = (".map", ".esm.js")  # source maps and ES-module builds: the pages load the UMD builds
SKIP_NAMES = {"embed.js", "libembed-amd.js", "embed.js.LICENSE.txt"}  # the pages load embed-amd.js (with require.js)

STAMP = ".installed"
#: MathJax 2's combined configuration shipped by jupyter-server-mathjax (it has no CommonHTML output)
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"


def asset_dir() -> Path:
    """$COURSE_WEB_ASSETS, else <venv>/share/course-web."""
    forced = os.environ.get("COURSE_WEB_ASSETS")
    return Path(forced).expanduser() if forced else Path(sys.prefix) / "share" / "course-web"


def mathjax_dir() -> Path:
    """The MathJax 2 tree of the jupyter-server-mathjax package."""
    try:
        import jupyter_server_mathjax
    except ImportError as err:  # pragma: no cover - requirements.txt installs it
        raise RuntimeError("jupyter-server-mathjax is not installed: run `make setup`") from err
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _wanted(member: str, prefix: str) -> bool:
    return ((member == prefix or member.startswith(prefix + "/")) and not member.endswith(SKIP_SUFFIXES)
            and member.rsplit("/", 1)[-1] not in SKIP_NAMES)


def install(dest: Path) -> int:
    """npm pack every pinned package, check its integrity, unpack the files the pages use into ``dest``."""
    npm = shutil.which("npm")
    if npm is None:
        print("npm (Node.js) is needed once, to install reveal.js and the widget manager that the static slides,\n"
              "HTML pages and site load (never from a CDN): install it (Debian/Ubuntu: `apt-get install npm`,\n"
              "macOS: `brew install node`, or conda: `conda install nodejs`), then run `make setup` again.\n"
              "Everything else (JupyterLab, live slides, the notebooks) works without it.", file=sys.stderr)
        return 1
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        for spec, integrity in PACKAGES.items():
            done = subprocess.run([npm, "pack", spec, "--json", "--pack-destination", tmp], cwd=tmp,
                                  capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                print(f"`npm pack {spec}` failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                return 1
            tarball = Path(tmp) / json.loads(done.stdout)[0]["filename"]
            if _integrity(tarball) != integrity:
                print(f"{spec}: the tarball's sha512 is {_integrity(tarball)}, expected {integrity}; "
                      "not installed", file=sys.stderr)
                return 1
            name = spec.rsplit("@", 1)[0]
            with tarfile.open(tarball) as tar:
                members = tar.getmembers()
                for prefix, target in FILES[name]:
                    for m in members:
                        if not m.isfile() or not _wanted(m.name, prefix):
                            continue
                        out = staging / target / Path(m.name).relative_to(prefix)
                        if m.name == prefix:  # a single file
                            out = staging / target
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(tar.extractfile(m).read())
            print(f"{spec}: integrity checked, unpacked")
    (staging / STAMP).write_text(json.dumps(PACKAGES, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    print(f"web assets in {dest}")
    return 0


def missing(dest: Path | None = None) -> str | None:
    """None when every asset is installed (the pinned versions), else what is wrong and how to fix it."""
    dest = dest or asset_dir()
    stamp = dest / STAMP
    if not stamp.exists():
        return (f"the web assets (reveal.js, require.js, the widget manager) are not installed in {dest}: "
                "run `make setup` (it needs npm once)")
    if json.loads(stamp.read_text(encoding="utf-8")) != PACKAGES:
        return f"the web assets in {dest} are not the pinned versions: run `make setup`"
    return None


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy files that are missing or differ in size or time (a second build copies nothing)."""
    for path in src.rglob("*"):
        if path.is_dir() or path.name == STAMP:
            continue
        out = dst / path.relative_to(src)
        st = path.stat()
        if out.exists() and out.stat().st_size == st.st_size and out.stat().st_mtime == st.st_mtime:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)


def stage(out_dir: Path, mathjax: bool = True) -> dict[str, str]:
    """Copy the assets into ``out_dir/_static`` and return the URLs (relative to out_dir) pages use."""
    problem = missing()
    if problem:
        raise RuntimeError(problem)
    static = out_dir / "_static"
    _copy_tree(asset_dir(), static)
    urls = {
        "reveal": "_static/reveal.js",
        "require": "_static/require.js",
        "widgets": "_static/html-manager/embed-amd.js",
    }
    if mathjax:
        _copy_tree(mathjax_dir(), static / "mathjax")
        urls["mathjax"] = f"_static/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    return urls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("command", choices=["install", "check"])
    parser.add_argument("--dest", type=Path, default=None, help="asset folder (default: $COURSE_WEB_ASSETS, "
                        "else <venv>/share/course-web)")
    args = parser.parse_args()
    dest = args.dest or asset_dir()
    if args.command == "install":
        return install(dest)
    problem = missing(dest)
    print(problem or f"web assets OK in {dest}", file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
