"""``fxmlsim ca ...``: the simulated CA from the command line.

::

    fxmlsim ca list [--holder ID] [--cn CN] [--json]
    fxmlsim ca show SERIAL [--pem]              # the 憑證證明單
    fxmlsim ca holder-add ID --name NAME --cn-suffix SUFFIX [--branch-code 0060000] [--bank-name ...]
    fxmlsim ca issue --holder ID --csr FILE [--request-id ID] [--not-after ISO] [--out FILE]
    fxmlsim ca renew SERIAL --csr FILE [--request-id ID] [--out FILE]
    fxmlsim ca suspend SERIAL | resume SERIAL | revoke SERIAL [--reason keyCompromise]
    fxmlsim ca crl [--out FILE]                 # DER to a file, PEM to stdout

Which CA: ``--url`` (a running service) or ``--state-dir`` (the state folder,
opened in this process), else ``FXMLSIM_CA_URL`` (exported by ``fxmlsim up``),
else ``FXMLSIM_CA_DIR``, else ``<home>/ca``. Through the service, the
stack's clock applies; in process, ``FXMLSIM_CLOCK``. The service's admin
token (for holder-add, issue, suspend, resume, revoke) is read from the file
``FXMLSIM_CA_TOKEN_FILE`` names (exported by ``fxmlsim up``), else from
``<home>/ca/admin.token``.

A refusal prints one line, ``fxmlsim ca: [CODE] 訊息``, on stderr and
returns 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml import env
from fxml.ca.api import TOKEN_FILE_NAME, renewal_proof_message
from fxml.ca.client import CaClient, CaError, read_token
from fxml.clock import ClockError, parse_instant
from fxml.display import taiwan_text
from simulator.ca.config import ConfigError
from simulator.ca.errors import CaServiceError
from simulator.ca.profile import DEFAULT_BANK_NAME, DEFAULT_BRANCH_CODE
from simulator.ca.revocation import REVOCATION_REASONS

ENV_DIR = env.CA_DIR
ENV_URL = env.CA_URL
EXIT_REFUSED = 1

#: Columns of ``list``, with the bank's labels.
LIST_COLUMNS = ("簽章憑證序號", "Common Name", "憑證狀態", "憑證生效日", "憑證到期日")


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    default_state_dir: Callable[[argparse.Namespace], Path] | None = None,
) -> None:
    """Add the ``ca`` command group to the ``fxmlsim`` parser. ``default_state_dir``
    gives the state folder when no option or variable names one (the home's ``ca/``)."""
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--url", dest="ca_url", default=argparse.SUPPRESS,
                       help=f"a running CA service (default: ${ENV_URL})")
    where.add_argument("--state-dir", dest="ca_state_dir", type=Path, default=argparse.SUPPRESS,
                       help=f"the CA's state folder, opened in this process (default: ${ENV_DIR} or <home>/ca)")

    ca = subparsers.add_parser("ca", parents=[where], help="the simulated TWCA Financial User CA")
    ca.set_defaults(ca_default_dir=default_state_dir)
    sub = ca.add_subparsers(dest="ca_command", required=True, metavar="CA_COMMAND")
    _add_queries(sub, where)
    _add_changes(sub, where)
    p = sub.add_parser("crl", parents=[where], help="the current CRL")
    p.add_argument("--out", type=Path, help="write DER here (default: PEM to stdout)")
    p.set_defaults(func=cmd_crl)


def _add_queries(sub: argparse._SubParsersAction[argparse.ArgumentParser], where: argparse.ArgumentParser) -> None:
    """``list`` and ``show``: what the CA says, nothing changed."""
    p = sub.add_parser("list", parents=[where], help="查詢: certificates, with status")
    p.add_argument("--holder", help="only this holder's")
    p.add_argument("--cn", help="only this Common Name's")
    p.add_argument("--json", action="store_true", help="JSON, as the HTTP API answers")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", parents=[where], help="憑證證明單 of a certificate")
    p.add_argument("serial")
    p.add_argument("--pem", action="store_true", help="also print the certificate (PEM)")
    p.set_defaults(func=cmd_show)


def _add_changes(sub: argparse._SubParsersAction[argparse.ArgumentParser], where: argparse.ArgumentParser) -> None:
    """The operations that change the registry: 用戶登錄, 申請, 更新, 暫禁, 解除暫禁, 廢止."""
    p = sub.add_parser("holder-add", parents=[where], help="用戶登錄: register a holder or one more CN suffix")
    p.add_argument("holder_id")
    p.add_argument("--name", required=True, help="the holder's name")
    p.add_argument("--cn-suffix", required=True, help="CN is <holder id>-00-<suffix>")
    p.add_argument("--branch-code", default=DEFAULT_BRANCH_CODE, help=f"7 digits (default {DEFAULT_BRANCH_CODE})")
    p.add_argument("--bank-name", default=DEFAULT_BANK_NAME, help=f"(default {DEFAULT_BANK_NAME!r})")
    p.set_defaults(func=cmd_holder_add)

    p = sub.add_parser("issue", parents=[where], help="申請: issue a certificate from a PKCS#10 request")
    p.add_argument("--holder", required=True)
    p.add_argument("--csr", type=Path, required=True, help="PKCS#10 request, PEM or DER")
    p.add_argument("--request-id", help="idempotency key (default: a new UUID)")
    p.add_argument("--not-after", help="end on this date (23:59:59 +08:00) instead of two years on")
    p.add_argument("--out", type=Path, help="write the certificate (PEM) here instead of stdout")
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("renew", parents=[where], help="更新: renew a certificate for a new key")
    p.add_argument("serial")
    p.add_argument("--csr", type=Path, required=True)
    p.add_argument("--old-key", type=Path,
                   help="the old certificate's private key (PEM): it signs the request, which the service "
                        "requires; not needed with --state-dir")
    p.add_argument("--request-id")
    p.add_argument("--out", type=Path)
    p.set_defaults(func=cmd_renew)

    for name, label, func in (("suspend", "暫禁", cmd_suspend), ("resume", "解除暫禁", cmd_resume)):
        p = sub.add_parser(name, parents=[where], help=label)
        p.add_argument("serial")
        p.set_defaults(func=func)

    p = sub.add_parser("revoke", parents=[where], help="廢止")
    p.add_argument("serial")
    p.add_argument("--reason", default="unspecified", choices=sorted(REVOCATION_REASONS))
    p.set_defaults(func=cmd_revoke)


# -- which CA -----------------------------------------------------------------------
class _Local:
    """The CA of a state folder, in this process."""

    def __init__(self, state_dir: Path):
        from simulator.ca.service import CertificateAuthority

        self.ca = CertificateAuthority.open(state_dir)
        self.actor = f"cli:{_user()}"

    def close(self) -> None:
        self.ca.close()

    def query(self, holder: str | None, cn: str | None) -> list[Any]:
        return self.ca.query(holder_id=holder, cn=cn)

    def certificate(self, serial: str) -> Any:
        return self.ca.download(serial, actor=self.actor)

    def proof(self, serial: str) -> dict[str, str]:
        return self.ca.proof_sheet(serial)

    def holder_add(self, holder_id: str, name: str, suffix: str, branch: str, bank: str) -> Any:
        return self.ca.register_holder(holder_id, name, suffix, branch, bank, actor=self.actor)

    def issue(self, request_id: str, holder: str, csr: bytes, not_after: Any) -> Any:
        return self.ca.apply(request_id, holder, csr, actor=self.actor, not_after=not_after)

    def renew(self, request_id: str, serial: str, csr: bytes, proof: bytes | None) -> Any:
        return self.ca.renew(request_id, serial, csr, actor=self.actor, old_key_signature=proof)

    def change(self, action: str, serial: str, **kwargs: Any) -> Any:
        return getattr(self.ca, action)(serial, actor=self.actor, **kwargs)

    def crl(self) -> bytes:
        return self.ca.crl_der()


class _Remote:
    """A running CA service, over HTTP."""

    def __init__(self, url: str, token_file: Path | None):
        token = read_token(token_file) if token_file is not None and token_file.exists() else None
        self.client = CaClient(url, actor=f"cli:{_user()}", token=token)

    def close(self) -> None:
        pass

    def query(self, holder: str | None, cn: str | None) -> list[Any]:
        return self.client.query(holder_id=holder, cn=cn)

    def certificate(self, serial: str) -> Any:
        return self.client.download(serial)

    def proof(self, serial: str) -> dict[str, str]:
        return self.client.proof_sheet(serial)

    def holder_add(self, holder_id: str, name: str, suffix: str, branch: str, bank: str) -> Any:
        return self.client.register_holder(holder_id, name, suffix, branch, bank)

    def issue(self, request_id: str, holder: str, csr: bytes, not_after: Any) -> Any:
        return self.client.apply(request_id, holder, csr, not_after=not_after)

    def renew(self, request_id: str, serial: str, csr: bytes, proof: bytes | None) -> Any:
        if proof is None:
            raise ValueError("a renewal through the service needs --old-key (the old certificate's key signs it)")
        return self.client.renew(request_id, serial, csr, proof)

    def change(self, action: str, serial: str, **kwargs: Any) -> Any:
        return getattr(self.client, action)(serial, **kwargs)

    def crl(self) -> bytes:
        return self.client.crl().public_bytes(serialization.Encoding.DER)


Backend = _Local | _Remote


def _user() -> str:
    return os.environ.get("USER") or str(os.getuid())


def _token_file(args: argparse.Namespace) -> Path | None:
    """Where the service's admin token is: ``FXMLSIM_CA_TOKEN_FILE``, else the home's CA folder."""
    if os.environ.get(env.CA_TOKEN_FILE):
        return Path(os.environ[env.CA_TOKEN_FILE])
    default = getattr(args, "ca_default_dir", None)
    return default(args) / TOKEN_FILE_NAME if default is not None else None


def _backend(args: argparse.Namespace) -> Backend:
    url = getattr(args, "ca_url", None) or os.environ.get(ENV_URL)
    state_dir = getattr(args, "ca_state_dir", None)
    if state_dir and not getattr(args, "ca_url", None):
        return _Local(state_dir)
    if url:
        return _Remote(url, _token_file(args))
    if os.environ.get(ENV_DIR):
        return _Local(Path(os.environ[ENV_DIR]))
    default = getattr(args, "ca_default_dir", None)
    if default is None:
        raise ValueError(f"which CA? give --url or --state-dir (or set ${ENV_URL} or ${ENV_DIR})")
    return _Local(default(args))


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[Backend]:
    backend = _backend(args)
    try:
        yield backend
    finally:
        backend.close()


def _command(body: Callable[[argparse.Namespace, Backend], int]) -> Callable[[argparse.Namespace], int]:
    """One place that turns refusals into one line on stderr and exit code 1."""
    def run(args: argparse.Namespace) -> int:
        try:
            with _opened(args) as backend:
                return body(args, backend)
        except (CaServiceError, CaError) as exc:
            print(f"fxmlsim ca: {exc}", file=sys.stderr)
        except (OSError, ValueError, ClockError, ConfigError) as exc:
            print(f"fxmlsim ca: {exc}", file=sys.stderr)
        return EXIT_REFUSED

    run.__name__ = body.__name__
    run.__doc__ = body.__doc__
    return run


# -- output -------------------------------------------------------------------------------
def _status(record: Any) -> str:
    return str(getattr(record.status, "value", record.status))


def _as_json(record: Any) -> dict[str, Any]:
    if hasattr(record, "to_json"):
        answer: dict[str, Any] = record.to_json()
        return answer
    data = {k: getattr(record, k) for k in ("serial", "holder_id", "cn", "subject", "issuer", "status",
                                             "renewed_from", "renewed_by", "revocation_reason", "replayed")}
    for key in ("not_before", "not_after", "issued_at", "suspended_at", "revoked_at"):
        value = getattr(record, key)
        data[key] = value.isoformat() if value else None
    data["certificate"] = record.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return data


def _write_certificate(record: Any, out: Path | None) -> None:
    pem = record.certificate.public_bytes(serialization.Encoding.PEM)
    if out:
        out.write_bytes(pem)
    else:
        sys.stdout.write(pem.decode("ascii"))


def _issued_line(verb: str, record: Any) -> None:
    replay = "（重送，沿用已核發的憑證）" if record.replayed else ""
    validity = f"{taiwan_text(record.not_before)} ~ {taiwan_text(record.not_after)}"
    print(f"{verb}: {record.serial} {record.cn} {validity}{replay}", file=sys.stderr)


# -- commands -------------------------------------------------------------------------------
@_command
def cmd_list(args: argparse.Namespace, backend: Backend) -> int:
    records = backend.query(args.holder, args.cn)
    if args.json:
        print(json.dumps([_as_json(r) for r in records], ensure_ascii=False, indent=1))
        return 0
    print("\t".join(LIST_COLUMNS))
    for r in records:
        print("\t".join((r.serial, r.cn, _status(r), taiwan_text(r.not_before), taiwan_text(r.not_after))))
    return 0


@_command
def cmd_show(args: argparse.Namespace, backend: Backend) -> int:
    for label, value in backend.proof(args.serial).items():
        print(f"{label}：{value}")
    if args.pem:
        _write_certificate(backend.certificate(args.serial), None)
    return 0


@_command
def cmd_holder_add(args: argparse.Namespace, backend: Backend) -> int:
    backend.holder_add(args.holder_id, args.name, args.cn_suffix, args.branch_code, args.bank_name)
    print(f"用戶登錄成功: {args.holder_id} {args.holder_id}-00-{args.cn_suffix}")
    return 0


@_command
def cmd_issue(args: argparse.Namespace, backend: Backend) -> int:
    not_after = parse_instant(args.not_after) if args.not_after else None
    request_id = args.request_id or f"cli-{uuid.uuid4()}"
    record = backend.issue(request_id, args.holder, args.csr.read_bytes(), not_after)
    _issued_line("憑證申請成功", record)
    _write_certificate(record, args.out)
    return 0


@_command
def cmd_renew(args: argparse.Namespace, backend: Backend) -> int:
    request_id = args.request_id or f"cli-{uuid.uuid4()}"
    csr = args.csr.read_bytes()
    proof = None
    if args.old_key is not None:
        key = serialization.load_pem_private_key(args.old_key.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{args.old_key}: not an RSA private key")
        der = csr if not csr.lstrip().startswith(b"-----") else x509.load_pem_x509_csr(csr).public_bytes(
            serialization.Encoding.DER)
        proof = key.sign(renewal_proof_message(request_id, args.serial, der), padding.PKCS1v15(), hashes.SHA256())
    record = backend.renew(request_id, args.serial, csr, proof)
    _issued_line("憑證更新成功", record)
    _write_certificate(record, args.out)
    return 0


def _change(action: str, done: str, **kwargs: Any) -> Callable[[argparse.Namespace, Backend], int]:
    def body(args: argparse.Namespace, backend: Backend) -> int:
        extra = {k: getattr(args, v) for k, v in kwargs.items()}
        record = backend.change(action, args.serial, **extra)
        print(f"{done}: {record.serial} {record.cn} 憑證狀態：{_status(record)}")
        return 0

    body.__name__ = f"cmd_{action}"
    return body


cmd_suspend = _command(_change("suspend", "憑證暫禁成功"))
cmd_resume = _command(_change("resume", "憑證解除暫禁成功"))
cmd_revoke = _command(_change("revoke", "憑證廢止成功", reason="reason"))


@_command
def cmd_crl(args: argparse.Namespace, backend: Backend) -> int:
    der = backend.crl()
    if args.out:
        args.out.write_bytes(der)
        crl = x509.load_der_x509_crl(der)
        print(f"{args.out}: {len(crl)} 筆", file=sys.stderr)
    else:
        sys.stdout.write(x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM).decode("ascii"))
    return 0
