"""The product as a wheel: prompts and seeds ship inside it, so an installed ``rag`` answers
from any folder, with no checkout beside it."""

from __future__ import annotations

import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ENRICHMENT_SENTENCE, ROOT

pytestmark = pytest.mark.slow


def _run(*command, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def test_a_wheel_installed_in_a_fresh_venv_answers_the_seed_question(tmp_path):
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "--wheel-dir", str(wheels), str(ROOT), cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("rag_news-*.whl")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    python = venv / "bin" / "python"
    # the dependencies come from this environment (a .pth line, so not its editable rag)
    purelib = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                        cwd=tmp_path).stdout.strip())  # fmt: skip
    (purelib / "dependencies.pth").write_text(
        "\n".join([sysconfig.get_path("purelib"), *site.getsitepackages()]) + "\n"
    )
    _run(str(python), "-m", "pip", "install", "--no-deps", "--quiet", str(wheel), cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"  # no prompts/ or seeds/ folder anywhere near
    elsewhere.mkdir()
    located = _run(str(python), "-c", "import rag; print(rag.__file__)", cwd=elsewhere).stdout
    assert located.startswith(str(purelib))
    rag = str(venv / "bin" / "rag")
    seeds = Path(located.strip()).parent / "data" / "seeds"
    _run(rag, "ingest", str(seeds), "--index-dir", "index", "--no-progress", cwd=elsewhere)
    answer = _run(rag, "ask", "What did Araghchi say about enrichment?", "--index-dir", "index",
                  cwd=elsewhere).stdout  # fmt: skip
    assert ENRICHMENT_SENTENCE in answer and "[1]" in answer
