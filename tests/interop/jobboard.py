"""The Python side of the job board the exception interop tests share with C++: a module
whose class a C++ peer registers (register_exception<JobStateError>("jobboard.JobStateError"))."""


class JobStateError(Exception):
    """A job is not in the state an operation needs; job says which (an attribute vinegar sends)."""

    def __init__(self, message, job=None):
        super().__init__(message)
        self.job = job
