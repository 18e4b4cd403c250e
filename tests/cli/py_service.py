#!/usr/bin/python3
"""A stock rpyc service for the `netref` command's tests. Prints "ready PORT" once listening.
Usage: py_service.py"""
import time

import rpyc
from rpyc.utils.server import ThreadedServer


class Account:
    def __init__(self, balance):
        self.exposed_balance = balance

    def exposed_deposit(self, amount):
        """Adds amount and returns the new balance."""
        self.exposed_balance += amount
        return self.exposed_balance


class BankService(rpyc.Service):
    exposed_version = "1.2"

    def exposed_greet(self, name, punctuation="!"):
        """Returns a greeting for name.

        The punctuation ends it.
        """
        return f"hello, {name}{punctuation}"

    def exposed_echo(self, *values):
        """Returns its arguments as a tuple."""
        return values

    def exposed_open_account(self, balance=0):
        return Account(balance)

    def exposed_fail(self, message):
        raise ValueError(message)

    def exposed_sleep(self, seconds):
        time.sleep(seconds)


server = ThreadedServer(BankService, hostname="127.0.0.1", port=0,
                        protocol_config={"sync_request_timeout": 10})
server._listen()  # listen before saying ready, so a client connecting at once is not refused
print("ready", server.port, flush=True)
server.start()
