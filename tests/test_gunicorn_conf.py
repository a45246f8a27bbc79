"""The gunicorn settings the README's command picks up from the project root: each
worker, once started, puts what it holds at start-up out of the garbage collector's
way and collects its young objects less often."""

import gc
import os
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gunicorn_reads_the_project_settings_from_the_root():
    """Does `gunicorn app:app` run from the root use gunicorn.conf.py's worker hook?"""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**os.environ, "SECRET_KEY": "x" * 32, "DATABASE_URL": "sqlite://"}
    shown = subprocess.run([str(gunicorn), "--print-config", "app:app"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60, check=True).stdout
    settings = {k.strip(): v.strip() for k, _, v in
                (line.partition("=") for line in shown.splitlines())}
    assert settings["config"] == "./gunicorn.conf.py"
    assert settings["post_worker_init"] == "<post_worker_init()>"


def test_worker_hook_freezes_start_up_objects_and_raises_the_threshold():
    """After the hook, are the objects the worker holds frozen, and is the young
    generation collected less often than Python's default?"""
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    before = gc.get_threshold()
    try:
        conf["post_worker_init"](worker=None)
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == conf["GC_THRESHOLDS"]
        assert conf["GC_THRESHOLDS"][0] > 700
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
