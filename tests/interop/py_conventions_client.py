#!/usr/bin/python3
"""rpyc's own tests, against a netref C++ server: the assertions of rpyc 6.0.1's
test_custom_service.py (aliases, attributes), test_attr_access.py (default config, safe
attributes withheld), test_remote_exception.py (both classes), with the C++ services that
conventions_interop_test.cpp serves in place of their Python ones; then exceptions both ways
with a registered class (jobboard.JobStateError). rpyc's files start Python servers of their
own in setUp, so they run here as the same assertions, not as the files themselves.
Usage: py_conventions_client.py PORT PORT_DENIED PORT_PREFIX (the default server, one with
include_local_traceback and include_local_version off, one with exposed_prefix "prefix_").
Prints one line per check and "ALL OK" at the end."""
import sys
import unittest

import rpyc

import jobboard

PORT, PORT_DENIED, PORT_PREFIX = (int(p) for p in sys.argv[1:4])
CONFIG = {"sync_request_timeout": 10}


def connect(port, **config):
    return rpyc.connect("127.0.0.1", port, config=dict(CONFIG, **config))


class TestCustomService(unittest.TestCase):
    """test_custom_service.py's TestCustomService, the checks a server answers."""

    def setUp(self):
        self.conn = connect(PORT)
        self.prefixed_conn = connect(PORT_PREFIX, exposed_prefix="prefix_")

    def tearDown(self):
        self.conn.close()
        self.prefixed_conn.close()

    def test_aliases(self):
        # rpyc's test prints it; every rpyc service answers, and so must ours
        self.assertEqual(self.conn.root.get_service_name(), "MY")
        self.assertEqual(self.conn.root.get_service_aliases(), ("MY",))
        self.assertEqual(self.prefixed_conn.root.get_service_name(), "MY")

    def test_distance(self):
        assert self.conn.root.distance((2, 7), (5, 11)) == 5

    def test_attributes(self):
        self.conn.root.distance
        self.conn.root.exposed_distance
        self.conn.root.getlist
        self.conn.root.exposed_getlist
        # this is not an exposed attribute:
        self.assertRaises(AttributeError, lambda: self.conn.root.foobar())
        # methods exposed using decorator
        self.conn.root.get_decorated
        self.conn.root.exposed_get_decorated
        self.prefixed_conn.root.get_decorated_prefix
        self.prefixed_conn.root.prefix_get_decorated_prefix
        # rpyc: hasattr(conn.root, 'get_decorated_prefix') is False, as the method exists
        # only under its other prefix; a C++ binding has one name, so the check here is that
        # the other server's prefix is not ours
        self.assertFalse(hasattr(self.conn.root, "prefix_get_decorated_prefix"))
        self.assertFalse(hasattr(self.prefixed_conn.root, "exposed_get_decorated_prefix"))
        smc = self.conn.root.MyClass('a', 'b')
        self.assertEqual(smc.foo(), 'ab')

    def test_safeattrs(self):
        x = self.conn.root.getlist()
        self.assertEqual([y * 2 for y in x], [2, 4, 6])

    def test_class_is_safe(self):
        # the client asks the server for __class__ itself (isinstance, repr helpers)
        smc = self.conn.root.MyClass('a', 'b')
        cls = smc.__class__
        self.assertEqual(cls.__name__, "MyClass")
        self.assertFalse(isinstance(smc, dict))
        self.assertRaises(AttributeError, lambda: cls.__dict__)
        self.assertRaises(AttributeError, lambda: cls.__subclasses__())


class TestConfigAllows(unittest.TestCase):
    """test_attr_access.py's TestConfigAllows: the default config, and allow_safe_attrs off
    (a C++ type whose binding has no __add__)."""

    def setUp(self):
        self.conn = connect(PORT)

    def tearDown(self):
        self.conn.close()

    def test_default_config(self):
        obj = self.conn.root.MyAccessClass()
        self.assertEqual(obj + 'bar', "foobar")
        self.assertEqual(obj.foobar(), "Fee Fie Foe Foo")
        self.assertEqual(obj.exposed_foobar(), "Fee Fie Foe Foo")
        self.assertRaises(AttributeError, lambda: obj._privy)
        self.assertRaises(AttributeError, lambda: obj.foo)
        self.assertRaises(AttributeError, lambda: obj.bar)
        self.assertRaises(AttributeError, lambda: obj.spam)

    def test_allow_safe_attrs(self):
        obj = self.conn.root.MyAccessClassWithoutOperators()
        self.assertEqual(obj.foobar(), "Fee Fie Foe Foo")
        self.assertEqual(obj.exposed_foobar(), "Fee Fie Foe Foo")
        self.assertRaises(AttributeError, lambda: obj._privy)
        self.assertRaises(AttributeError, lambda: obj + 'bar')
        self.assertRaises(AttributeError, lambda: obj.foo)
        self.assertRaises(AttributeError, lambda: obj.bar)
        self.assertRaises(AttributeError, lambda: obj.spam)
        self.assertRaises(TypeError, lambda: 'bar' + obj)  # as rpyc: no __radd__, a TypeError
        self.assertTrue(bool(obj))  # truthiness does not ask for an operator


class TestRemoteException(unittest.TestCase):
    """test_remote_exception.py's TestRemoteException (the part a server can answer: the
    version it reports is the rpyc release whose wire it speaks, which is the client's)."""

    def setUp(self):
        self.conn = connect(PORT)

    def tearDown(self):
        self.conn.close()

    def test_remote_exception(self):
        warn_msg = 'WARNING: Remote is on RPyC'
        try:
            self.conn.root.remote_assert(False)
        except Exception as exc:
            exc_rpyc_version = exc._remote_version
            exc_remote_tb = exc._remote_tb
        else:
            exc_rpyc_version = None
            exc_remote_tb = ''
        self.assertEqual(rpyc.version.__version__, exc_rpyc_version)
        self.assertFalse(warn_msg in exc_remote_tb)
        self.assertIn("AssertionError", exc_remote_tb)


class TestExclusionsRemoteException(unittest.TestCase):
    """test_remote_exception.py's TestExclusionsRemoteException: the server runs with
    include_local_traceback and include_local_version off."""

    def setUp(self):
        self.conn = connect(PORT_DENIED)

    def tearDown(self):
        self.conn.close()

    def test_remote_exception(self):
        try:
            self.conn.root.remote_assert(False)
        except Exception as exc:
            exc_rpyc_version = exc._remote_version
            exc_remote_tb = exc._remote_tb
        else:
            exc_rpyc_version = None
            exc_remote_tb = ''
        self.assertEqual("<traceback denied>", exc_remote_tb)
        self.assertEqual("<version denied>", exc_rpyc_version)


class TestExceptionsBothWays(unittest.TestCase):
    """register_exception: C++ JobStateError <-> Python jobboard.JobStateError."""

    def test_reaches_python_as_its_module_and_class(self):
        conn = connect(PORT)
        try:
            with self.assertRaises(Exception) as raised:
                conn.root.finish(7)
            self.assertEqual(type(raised.exception).__name__, "jobboard.JobStateError")  # GenericException
            self.assertEqual(raised.exception.args, ("job 7 is already finished",))
        finally:
            conn.close()

    def test_instantiated_when_the_client_allows_custom_exceptions(self):
        conn = connect(PORT, instantiate_custom_exceptions=True, import_custom_exceptions=True)
        try:
            with self.assertRaises(jobboard.JobStateError) as raised:
                conn.root.finish(7)
            self.assertEqual(str(raised.exception.args[0]), "job 7 is already finished")
            self.assertIn("JobStateError", raised.exception._remote_tb)
        finally:
            conn.close()

    def test_a_python_exception_is_caught_in_cpp_by_type(self):
        conn = connect(PORT)
        try:
            def fail():
                raise jobboard.JobStateError("job 3 is running")
            self.assertEqual(conn.root.run_job(fail), "caught JobStateError: job 3 is running")
            # the C++ handler did not catch it: it travels back as itself
            with self.assertRaises(Exception) as raised:
                conn.root.run_job_uncaught(fail)
            self.assertEqual(type(raised.exception).__name__, "jobboard.JobStateError")
        finally:
            conn.close()


if __name__ == "__main__":
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    if result.wasSuccessful():
        print("ALL OK", flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)
