"""The learner's working copy: their own notebooks, kept apart from the course's pristine ones.

``python course.py lab`` serves ``my-work/`` (one per course folder) and each workshop learner gets one
in their home. It holds ``notebooks/`` and ``lessons/syllabus.md`` and ``glossary.md`` (same relative
layout as the course, so the syllabus' links work), plus ``.course-manifest.json``: the SHA-256 of each
file as it was copied in, which tells a file the learner changed from one they never touched.

Every start syncs the copy by nbgitpuller's rules (https://nbgitpuller.readthedocs.io, "merging"):

* a course file the copy never had is copied in (a new notebook);
* a file the learner never changed is updated to the course's current version;
* a file the learner changed is kept as it is (``reset`` brings back the course's version);
* a file the learner deleted is restored;
* a learner's own file in the way of a new course file is kept beside it, renamed with a timestamp.

Nothing here deletes a learner's file. Standard library only: ``course.py`` imports it before the
course's environment exists.
"""
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from helpers.course.atomic import atomic_path, write_text_atomic

WORK_DIR_NAME = "my-work"
MANIFEST_NAME = ".course-manifest.json"
MANIFEST_VERSION = 1
COURSE_DOCUMENTS = ("lessons/syllabus.md", "lessons/glossary.md")
FIRST_NOTEBOOK = "notebooks/00_setup_check.ipynb"


@dataclass
class SyncReport:
    """What a sync did, as paths relative to the working copy."""

    added: list = field(default_factory=list)  # new course files copied in
    updated: list = field(default_factory=list)  # unchanged by the learner, now the course's new version
    restored: list = field(default_factory=list)  # deleted by the learner, copied in again
    kept: list = field(default_factory=list)  # changed by the learner while the course's version moved on
    moved_aside: list = field(default_factory=list)  # (learner's file, its new name) pairs

    def lines(self) -> list:
        """One plain sentence per kind of change; [] when nothing changed."""
        out = []
        for label, paths in (("new from the course", self.added), ("updated to the course's new version", self.updated),
                             ("restored (you had deleted it)", self.restored)):
            if paths:
                out.append(f"{label}: {', '.join(paths)}")
        for path in self.kept:
            out.append(f"kept your version of {path}; the course's new one: {reset_hint(path)}")
        for old, new in self.moved_aside:
            out.append(f"your own {old} was in the way of a new course file: kept as {new}")
        return out


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def course_files(course_root) -> dict:
    """{path relative to the course folder (with /): absolute path} of every file a working copy holds."""
    course_root = Path(course_root)
    files = {}
    for path in sorted((course_root / "notebooks").rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            files[path.relative_to(course_root).as_posix()] = path
    for name in COURSE_DOCUMENTS:
        if (course_root / name).is_file():
            files[name] = course_root / name
    return files


def read_manifest(work_dir) -> dict:
    """{relative path: SHA-256 of the course version it was copied from}; {} for a new working copy."""
    path = Path(work_dir) / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); delete it and every file is treated as yours") from err
    if raw.get("version") != MANIFEST_VERSION or not isinstance(raw.get("files"), dict):
        raise ValueError(f"{path} has version {raw.get('version')!r}, expected {MANIFEST_VERSION}; "
                         "delete it and every file is treated as yours")
    return raw["files"]


def write_manifest(work_dir, files: dict) -> None:
    text = json.dumps({"version": MANIFEST_VERSION, "files": dict(sorted(files.items()))}, indent=1)
    write_text_atomic(Path(work_dir) / MANIFEST_NAME, text + "\n")


def copy_file(source, target) -> None:
    """Copy ``source`` onto ``target`` whole or not at all."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def timestamped_name(path, now=None) -> Path:
    """``notebooks/03_x.ipynb`` -> ``notebooks/03_x_20250131-142501.ipynb``, a name not taken yet."""
    path = Path(path)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate, n = path.with_name(f"{path.stem}_{stamp}{path.suffix}"), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}_{stamp}-{n}{path.suffix}")
    return candidate


def sync_working_copy(course_root, work_dir, now=None) -> SyncReport:
    """Bring ``work_dir`` up to the course in ``course_root`` by the rules in the module docstring."""
    work_dir, report = Path(work_dir), SyncReport()
    manifest = read_manifest(work_dir)
    new_manifest = {}
    for rel, source in course_files(course_root).items():
        target, course_hash = work_dir / rel, sha256_file(source)
        pristine = manifest.get(rel)
        if not target.exists():
            copy_file(source, target)
            (report.restored if pristine else report.added).append(rel)
            new_manifest[rel] = course_hash
            continue
        current = sha256_file(target)
        if current == course_hash:
            new_manifest[rel] = course_hash
        elif pristine is None:  # the learner's own file where a new course file goes
            aside = timestamped_name(target, now)
            target.rename(aside)
            copy_file(source, target)
            report.moved_aside.append((rel, aside.relative_to(work_dir).as_posix()))
            new_manifest[rel] = course_hash
        elif current == pristine:  # never changed by the learner
            copy_file(source, target)
            report.updated.append(rel)
            new_manifest[rel] = course_hash
        else:  # changed by the learner: theirs
            if pristine != course_hash:
                report.kept.append(rel)
            new_manifest[rel] = pristine
    write_manifest(work_dir, new_manifest)
    return report


def notebook_by_number(course_root, number) -> str:
    """'3' or '03' -> 'notebooks/03_run_a_local_llm.ipynb'; an unknown number names the ones there are."""
    numbers = {Path(rel).name[:2]: rel for rel in course_files(course_root)
               if rel.startswith("notebooks/") and rel.endswith(".ipynb") and Path(rel).name[:2].isdigit()}
    text = str(number).strip()
    if not text.isdigit() or text.zfill(2) not in numbers:
        allowed = f"{min(numbers)}-{max(numbers)}" if numbers else "none: the course has no notebooks"
        raise ValueError(f"no course notebook numbered {number!r}; allowed: {allowed}")
    return numbers[text.zfill(2)]


def reset_hint(rel: str) -> str:
    """The command that restores one notebook (``rel`` relative to the working copy)."""
    name = Path(rel).name
    if rel.startswith("notebooks/") and name[:2].isdigit():
        return f"python course.py reset {name[:2]}"
    return f"copy {rel} from the course folder"


def reset_notebook(course_root, work_dir, number, now=None):
    """Put the course's version of notebook ``number`` into the working copy.

    The learner's version, when it differs, is kept beside it under a timestamped name.
    Returns (relative path, the kept version's relative path or None).
    """
    rel = notebook_by_number(course_root, number)
    work_dir = Path(work_dir)
    source, target = Path(course_root) / rel, work_dir / rel
    course_hash = sha256_file(source)
    kept = None
    if target.exists() and sha256_file(target) != course_hash:
        aside = timestamped_name(target, now)
        target.rename(aside)
        kept = aside.relative_to(work_dir).as_posix()
    if not target.exists():
        copy_file(source, target)
    manifest = read_manifest(work_dir)
    manifest[rel] = course_hash
    write_manifest(work_dir, manifest)
    return rel, kept
