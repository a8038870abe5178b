#!/usr/bin/env python3
"""Fare's Python runtime: a small client of the AWS Lambda Runtime API (2018-06-01), standard library only.

Loads the handler named by _HANDLER (`path/to/module.function`) from LAMBDA_TASK_ROOT, reports init
errors to /init/error and exits, then loops: GET /next, call handler(event, context), POST /response
or /error. It speaks HTTP with http.client (what urllib uses underneath) so that one kept-alive
connection serves the whole loop instead of a new one per call.
"""

import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback
import urllib.parse

API = os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
BASE = "/2018-06-01/runtime"

# The request id of the invocation running now ("" while the code starts), for log lines.
CURRENT = {"request_id": ""}


class RequestIdFilter(logging.Filter):
    """Gives every record the running invocation's request id (`aws_request_id`), as Lambda does."""

    def filter(self, record):
        record.aws_request_id = CURRENT["request_id"]
        return True


def install_logging():
    """Lambda's log lines for the `logging` module: `[LEVEL]\t<UTC time>Z\t<request id>\t<message>`.

    One handler on the root logger, installed before the function's code is imported, so loggers made
    at module level (`logging.getLogger(__name__)`) reach it too; `logging.basicConfig()` in the code
    then does nothing, as on Lambda. The root level stays WARNING unless AWS_LAMBDA_LOG_LEVEL says
    otherwise (the code may set its own).
    """
    formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)


class Api:
    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host, self.port = host, int(port)
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port)
            try:
                self.conn.request(method, BASE + path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                return r.status, r.headers, r.read()
            except (http.client.HTTPException, ConnectionError):
                # A kept-alive connection closed by the server: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def post_error(self, path, doc):
        body = json.dumps(doc).encode()
        return self.request("POST", path, body, {
            "Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": doc["errorType"],
        })


class FaultError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


def error_doc(exc, error_type=None):
    tb = traceback.extract_tb(exc.__traceback__)
    return {
        "errorType": error_type or getattr(exc, "error_type", None) or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": [line for line in traceback.format_list(tb)],
    }


def load_handler(root, spec):
    modname, dot, fname = spec.rpartition(".")
    if not dot or not modname or not fname:
        raise FaultError("Runtime.MalformedHandlerName", "Bad handler '%s': use module.function" % spec)
    modname = modname.replace("/", ".")
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (modname, e)) from None
    except SyntaxError as e:
        raise FaultError("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (modname, e)) from None
    fn = getattr(module, fname, None)
    if not callable(fn):
        raise FaultError("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fname, modname))
    return fn


class Context:
    """The Lambda context object, plus Fare's context token (`fare_context`)."""

    def __init__(self, request_id, deadline_ms, headers):
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        cc = headers.get("Lambda-Runtime-Client-Context")
        self.client_context = None
        if cc:
            try:
                self.client_context = json.loads(cc)
            except ValueError:
                self.client_context = cc
        self.fare_context = headers.get("Fare-Context")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def flush():
    sys.stdout.flush()
    sys.stderr.flush()


def become_instance(api):
    """A stem cell (a runtime Fare started before knowing its function: FARE_STEM=1) waits here until it
    is given one: it takes on that function's environment, exactly, then loads the code as any cold
    start does. Asked once, before the first /next."""
    while True:
        # Asked again each time Fare says to wait (≈ 0.5 s): its code and data stay in memory.
        api.request("GET", "/fare/credentials")
        status, _, body = api.request("GET", "/fare/stem")
        if status != 200:
            raise RuntimeError("Runtime API /fare/stem answered %d: %r" % (status, body[:200]))
        orders = json.loads(body)
        if not orders.get("wait"):
            break
    env = orders["env"]
    os.environ.clear()
    os.environ.update(env)
    # Its directory was renamed to the instance's: the same directory, under the name it now has.
    if "LAMBDA_TASK_ROOT" in env:
        os.chdir(env["LAMBDA_TASK_ROOT"])
    importlib.invalidate_caches()


def main():
    api = Api(API)
    if os.environ.get("FARE_STEM") == "1":
        become_instance(api)
    install_logging()
    root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    try:
        handler = load_handler(root, os.environ.get("_HANDLER", ""))
    except Exception as e:  # noqa: BLE001 - any init failure is reported, then the runtime exits
        doc = error_doc(e)
        print("INIT_ERROR %s: %s" % (doc["errorType"], doc["errorMessage"]), file=sys.stderr)
        flush()
        api.post_error("/init/error", doc)
        sys.exit(1)

    while True:
        status, headers, body = api.request("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError("Runtime API /next answered %d: %r" % (status, body[:200]))
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        CURRENT["request_id"] = request_id
        trace = headers.get("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        ctx = Context(request_id, int(headers.get("Lambda-Runtime-Deadline-Ms", "0")), headers)
        path = "/invocation/%s" % urllib.parse.quote(request_id, safe="")
        try:
            text = body.decode("utf-8") if body else "null"
            try:
                event = json.loads(text)
            except ValueError:
                event = text
            result = handler(event, ctx)
            try:
                out = json.dumps(result).encode()
            except (TypeError, ValueError) as e:
                raise FaultError("Runtime.MarshalError", "Unable to marshal response: %s" % e) from None
            flush()
            status, _, _ = api.request("POST", path + "/response", out, {"Content-Type": "application/json"})
        except Exception as e:  # noqa: BLE001 - handler errors go to /error
            doc = error_doc(e)
            print("%s ERROR %s: %s" % (request_id, doc["errorType"], doc["errorMessage"]), file=sys.stderr)
            flush()
            status, _, _ = api.post_error(path + "/error", doc)
        if status >= 500:
            sys.exit(1)


if __name__ == "__main__":
    main()
