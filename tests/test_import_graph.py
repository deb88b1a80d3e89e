"""The services queue work by the task's name: importing them never imports the tasks, so the
import graph has no cycle between gallery/services and gallery/tasks."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_generation_service_does_not_import_the_tasks():
    probe = (
        "import sys, django; django.setup(); "
        "import gallery.services.generation; "
        "print('gallery.tasks' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_no_service_module_names_the_tasks_module():
    for module in (ROOT / "gallery/services").glob("*.py"):
        assert "gallery.tasks" not in module.read_text(), module.name
