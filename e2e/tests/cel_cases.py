"""One case per CEL rule of the MoETrainingJob CRD (x-kubernetes-validations).

Each Case names the rule by its location in the schema (`path`, e.g. ".spec.parallelism", array items as "[*]")
and its exact rule text, and gives two JSON merge patches onto the valid base job (examples/tiny-cpu.yaml):
`ok` must be accepted and `bad` rejected with the rule's message (or `message`, when the rule has a
messageExpression). Transition rules (oldSelf) set update=True: the object is created from `before`, then updated.
test_every_cel_rule_has_a_case fails when the CRD gains a rule that has no case here.
"""
from dataclasses import dataclass, field


@dataclass
class Case:
    id: str
    path: str
    rule: str
    ok: dict
    bad: dict
    message: str = ""
    update: bool = False
    before: dict = field(default_factory=dict)


CASES: list[Case] = [
    # Filled in from crds/ once the CRD lands.
]
