import subprocess
import sys

from gasr_hf.sr.models import build, tiny_config


def run_fresh(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_gasr_hf_registers_mambair_light_without_importing_torch(tmp_path):
    from safetensors.torch import save_file

    model = build("mambair-light", scale=4, **tiny_config("mambair-light"))
    path = tmp_path / "mambair_light.safetensors"
    save_file(model.state_dict(), str(path))
    code = (
        "import sys, gasr_hf\n"
        "print('torch' in sys.modules, 'spandrel' in sys.modules)\n"
        "import spandrel\n"
        f"d = spandrel.ModelLoader().load_from_file({str(path)!r})\n"
        "print(d.architecture.id, d.scale)\n"
    )
    assert run_fresh(code).splitlines() == ["False False", "MambaIRLight 4"]


def test_registration_also_works_when_spandrel_came_first():
    code = "import spandrel, gasr_hf\nprint('MambaIRLight' in spandrel.MAIN_REGISTRY)"
    assert run_fresh(code) == "True"
