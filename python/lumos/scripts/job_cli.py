"""`lumos job submit|status|logs|stop|delete|list`: Ray's jobs CLI (same
options, messages and exit codes) over lumos.job_submission's SDK.

Every command takes --address http://HEAD:8265 (before or after the job
id); without it the SDK finds the address (LUMOS_ADDRESS, RAY_ADDRESS, or
this machine's cluster). Errors print one line naming the cause and exit 1.
"""
import argparse
import json
import os
import shlex
import sys
import time

_RULE = "-" * 56


def _client(args):
    from lumos.job_submission import JobSubmissionClient
    headers = _json_arg(args, "headers", dict) if getattr(args, "headers", None) else None
    return JobSubmissionClient(args.address, headers=headers, verify=args.verify)


def _json_arg(args, name, kind):
    text = getattr(args, name)
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValueError("--%s is not valid JSON (%s): %r" % (name.replace("_", "-"), e, text))
    if not isinstance(value, kind):
        raise ValueError("--%s must be a JSON %s, got %r" % (name.replace("_", "-"), kind.__name__, value))
    return value


def _big(text):
    print(_RULE)
    print(text)
    print(_RULE)


def _print_status(client, sid):
    from lumos.job_submission import JobStatus
    info = client.get_job_info(sid)
    print("Status for job '%s': %s" % (sid, info.status.value))
    if info.status == JobStatus.SUCCEEDED:
        _big("Job '%s' succeeded" % sid)
    elif info.status == JobStatus.STOPPED:
        print("Job '%s' was stopped" % sid)
    elif info.status == JobStatus.FAILED:
        _big("Job '%s' failed" % sid)
        if info.message:
            print("Status message: %s" % info.message)
    elif info.message:
        print("Status message: %s" % info.message)
    return info


def _runtime_env(args):
    env = {}
    if args.runtime_env and args.runtime_env_json:
        raise ValueError("give either --runtime-env FILE or --runtime-env-json, not both")
    if args.runtime_env:
        with open(args.runtime_env) as f:
            text = f.read()
        try:
            env = json.loads(text)
        except ValueError:
            try:
                import yaml  # type: ignore[import-untyped,import-not-found,unused-ignore]
            except ImportError:
                raise ValueError("--runtime-env %s is not JSON, and reading it as YAML needs PyYAML "
                                 "(pip install pyyaml), or pass JSON" % args.runtime_env) from None
            env = yaml.safe_load(text)
        if not isinstance(env, dict):
            raise ValueError("--runtime-env %s must hold a mapping (YAML or JSON)" % args.runtime_env)
    elif args.runtime_env_json:
        env = _json_arg(args, "runtime_env_json", dict)
    if args.working_dir:
        env["working_dir"] = args.working_dir
    return env


def _entrypoint(tokens):
    if tokens and tokens[0] == "--":
        tokens = tokens[1:]
    if not tokens:
        raise ValueError("no entrypoint: put the command after --, e.g. `lumos job submit -- python script.py`")
    # One token is a shell command line as written; several are quoted for the shell.
    return tokens[0] if len(tokens) == 1 else shlex.join(tokens)


def _cmd_submit(args):
    client = _client(args)
    print("Job submission server address: %s" % client.get_address())
    sid = client.submit_job(
        entrypoint=_entrypoint(args.entrypoint), submission_id=args.submission_id or args.job_id,
        runtime_env=_runtime_env(args),
        metadata=_json_arg(args, "metadata_json", dict) if args.metadata_json else None,
        entrypoint_num_cpus=args.entrypoint_num_cpus, entrypoint_num_gpus=args.entrypoint_num_gpus,
        entrypoint_memory=args.entrypoint_memory,
        entrypoint_resources=_json_arg(args, "entrypoint_resources", dict) if args.entrypoint_resources else None)
    _big("Job '%s' submitted successfully" % sid)
    print("\nNext steps\n  Query the logs of the job:\n    lumos job logs %s\n  Query the status of the job:\n"
          "    lumos job status %s\n  Request the job to be stopped:\n    lumos job stop %s\n" % (sid, sid, sid))
    sys.stdout.flush()
    if args.no_wait:
        return 0
    print("Tailing logs until the job exits (disable with --no-wait):")
    for chunk in client.iter_job_logs(sid):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    info = _print_status(client, sid)
    return 1 if info.status.value == "FAILED" else 0


def _cmd_status(args):
    _print_status(_client(args), args.job_id)
    return 0


def _cmd_logs(args):
    client = _client(args)
    if args.follow:
        for chunk in client.iter_job_logs(args.job_id):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    else:
        sys.stdout.write(client.get_job_logs(args.job_id))
    return 0


def _cmd_stop(args):
    client = _client(args)
    print("Attempting to stop job '%s'" % args.job_id)
    client.stop_job(args.job_id)
    if args.no_wait:
        return 0
    print("Waiting for job '%s' to exit (disable with --no-wait):" % args.job_id)
    last_note = time.monotonic()
    while not client.get_job_status(args.job_id).is_terminal():
        if time.monotonic() - last_note >= 1.0:
            print("Job has not exited yet. Status: %s" % client.get_job_status(args.job_id).value)
            last_note = time.monotonic()
        time.sleep(0.05)
    _print_status(client, args.job_id)
    return 0


def _cmd_delete(args):
    _client(args).delete_job(args.job_id)
    print("Job '%s' deleted successfully" % args.job_id)
    return 0


def _cmd_list(args):
    import pprint
    jobs = _client(args).list_jobs()
    print(pprint.pformat(jobs, width=120))
    return 0


def _add_common(p):
    p.add_argument("--address", default=None,
                   help="the dashboard's address, http://HEAD:8265 (default: $LUMOS_ADDRESS or this machine's cluster)")
    p.add_argument("--verify", default=True, type=lambda s: s.lower() not in ("false", "0", "no"),
                   help="verify the server's TLS certificate (https addresses)")
    p.add_argument("--headers", default=None, help="extra HTTP headers as JSON")


def add_parsers(sub):
    job = sub.add_parser("job", help="submit and manage jobs (Ray's `ray job`)")
    jsub = job.add_subparsers(dest="job_command", required=True)

    p = jsub.add_parser("submit", help="submit a job: lumos job submit [options] -- COMMAND ARGS")
    _add_common(p)
    p.add_argument("--submission-id", default=None, help="the job's id (default: a new one)")
    p.add_argument("--job-id", default=None, help=argparse.SUPPRESS)  # Ray's deprecated spelling
    p.add_argument("--runtime-env", default=None, help="a YAML or JSON file holding the runtime_env")
    p.add_argument("--runtime-env-json", default=None, help="the runtime_env as JSON")
    p.add_argument("--working-dir", default=None, help="a local directory uploaded as the job's working_dir")
    p.add_argument("--metadata-json", default=None, help="string metadata as a JSON object")
    p.add_argument("--entrypoint-num-cpus", type=float, default=None)
    p.add_argument("--entrypoint-num-gpus", type=float, default=None)
    p.add_argument("--entrypoint-memory", type=int, default=None)
    p.add_argument("--entrypoint-resources", default=None, help="custom resources as JSON, e.g. '{\"a\": 1}'")
    p.add_argument("--no-wait", action="store_true", help="print the id and return without tailing the logs")
    p.add_argument("entrypoint", nargs=argparse.REMAINDER)
    p.set_defaults(fn=run, job_fn=_cmd_submit)

    for name, fn, helptext in (("status", _cmd_status, "print a job's state"),
                               ("logs", _cmd_logs, "print a job's logs"),
                               ("stop", _cmd_stop, "stop a job and wait until it has stopped"),
                               ("delete", _cmd_delete, "delete a terminal job's record and logs")):
        p = jsub.add_parser(name, help=helptext)
        _add_common(p)
        p.add_argument("job_id")
        if name == "logs":
            p.add_argument("-f", "--follow", action="store_true", help="follow the log until the job ends")
        if name == "stop":
            p.add_argument("--no-wait", action="store_true", help="return once the stop is requested")
        p.set_defaults(fn=run, job_fn=fn)

    p = jsub.add_parser("list", help="list the cluster's jobs")
    _add_common(p)
    p.set_defaults(fn=run, job_fn=_cmd_list)


def run(args):
    """Runs the parsed `lumos job ...` command; exits with its code."""
    from lumos.exceptions import AuthenticationError
    try:
        code = args.job_fn(args)
    except (AuthenticationError, ConnectionError, RuntimeError, ValueError, OSError) as e:
        print("lumos job %s: %s" % (args.job_command, e), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.exit(code or 0)
