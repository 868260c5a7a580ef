"""Every custom action the domain names is served by the action server, and no other."""

import yaml
from rasa_sdk.executor import ActionExecutor

from settings import PROJECT_ROOT


def test_action_server_serves_exactly_the_domain_actions():
    executor = ActionExecutor()
    executor.register_package("actions")
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(executor.actions) == set(domain["actions"])
