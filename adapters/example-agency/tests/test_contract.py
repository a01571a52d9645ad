"""The integrator's own test: photocore's contract kit against the installed adapter.

Run it where photocore and this package are installed: ``pytest adapters/example-agency/tests``.
"""

from photocore.adapters.contract import check_adapter


def test_keeps_the_photocore_adapter_contract(tmp_path):
    report = check_adapter("example-card-drop", {"bureau": "zhoushan-card-bureau"}, workdir=tmp_path)
    assert report.ok
