"""The base of every pydantic model sycl validates: unknown keys are errors, values are validated.

On the ground floor so that both the settings (:mod:`sycl.config`) and the hand-off records
(:mod:`sycl.io.records`) derive from the one definition.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base of every config section and record: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())
