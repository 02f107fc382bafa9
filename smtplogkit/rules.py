"""Rules that turn a failed step's evidence into a stage and a root cause.

Format parsers report what they saw (a reply, an exception text, the step the
client was in); this module decides what it means.  The rules are tables,
tried in order, so that a provider's specific wording wins over the generic
meaning of its reply code.  Reply code knowledge itself lives in
:mod:`smtplogkit.replycodes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from . import replycodes as rc
from .labels import Cause, Stage, TlsMode
from .literals import LiteralIndex, branches, could_match, lowered, required_literals
from .redact import decode_base64

PRE_CONNECT = frozenset({Stage.DNS, Stage.CONNECT})
HANDSHAKE = frozenset({Stage.DNS, Stage.CONNECT, Stage.TLS, Stage.GREETING})
TRANSACTION = frozenset({Stage.MAIL_FROM, Stage.RCPT_TO, Stage.DATA})
IMPLICIT_TLS_PORTS = frozenset({465})
PLAIN_FIRST_PORTS = frozenset({25, 587, 2525})


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a rule table.

    The rule applies when ``pattern`` matches the failure text (case-insensitive)
    and, where given, the reply code is in ``codes`` and the failure stage is in
    ``stages``.  ``stage`` replaces the failure stage: an exception text such as
    "Name or service not known" identifies the stage more reliably than the parser can.
    """

    cause: Cause
    pattern: str
    codes: frozenset[int] | None = None
    stages: frozenset[Stage] | None = None
    stage: Stage | None = None
    # Filled on first use by _prepare: (literals, branches, the whole pattern compiled when it
    # has no branches).  Compiling every table's patterns at import cost about 0.09 s of each
    # run's start-up.
    _prepared: tuple | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def regex(self) -> re.Pattern:
        """The whole pattern, compiled case-insensitive."""
        return re.compile(self.pattern, re.IGNORECASE)

    @property
    def literals(self) -> tuple[str, ...] | None:
        """Lower-case strings one of which every match contains, or None (see :mod:`smtplogkit.literals`)."""
        return self._prepare()[0]

    @property
    def branches(self) -> tuple[tuple[tuple[str, ...] | None, re.Pattern], ...] | None:
        """The pattern's top-level alternatives, each compiled with its own literals, or None."""
        return self._prepare()[1]

    def _prepare(self) -> tuple:
        prepared = self._prepared
        if prepared is None:
            parts = branches(self.pattern)
            if parts is None:
                prepared = (required_literals(self.pattern, re.IGNORECASE), None, re.compile(self.pattern, re.IGNORECASE))
            else:
                split = tuple((required_literals(part, re.IGNORECASE), re.compile(part, re.IGNORECASE))
                              for part in parts)
                # A match of the whole is a match of one alternative, so it contains one of their literals.
                branch_literals = [literals for literals, _ in split]
                whole = (None if None in branch_literals
                         else tuple(sorted({text for group in branch_literals for text in group})))
                prepared = (whole, split, None)
            object.__setattr__(self, "_prepared", prepared)
        return prepared

    def search(self, text: str) -> bool:
        """Return whether the pattern occurs in ``text``, skipping the search when a required literal is missing.

        A pattern of many alternatives is searched one alternative at a
        time, and only for those whose literals the text contains.  Python's
        ``re`` tries every alternative at every position of the text, which
        cost up to about 15 microseconds per rule on a long Postfix reply.
        """
        whole, split, regex = self._prepared or self._prepare()
        if not could_match(whole, text):
            return False
        if split is None:
            return regex.search(text) is not None
        lower = lowered(text)  # None: any alternative could match (see could_match)
        for literals, regex in split:
            if lower is not None and literals is not None:
                for literal in literals:
                    if literal in lower:
                        break
                else:
                    continue  # none of this alternative's literals is in the text
            if regex.search(text) is not None:
                return True
        return False

    def matches(self, stage: Stage, code: int | None, text: str) -> bool:
        """Return whether this rule applies to a failure."""
        if self.codes is not None and code not in self.codes:
            return False
        if self.stages is not None and stage not in self.stages:
            return False
        return self.search(text)


def _codes(*codes: int) -> frozenset[int]:
    return frozenset(codes)


# Evidence anywhere in the session that outranks the failing reply itself.
# .NET's SmtpClient, for one, reports "530 5.7.57 Client not authenticated"
# at MAIL FROM while quoting the 535 5.7.139 that explains it.
SESSION_RULES: tuple[Rule, ...] = (
    # Microsoft gives 5.7.139 for a wrong password too, so this wording comes first.
    Rule(Cause.AUTH_FAILED, r"user credentials were incorrect"),
    Rule(Cause.AUTH_DISABLED_BY_POLICY, r"\b5\.7\.139\b|smtp_?auth_disabled|SmtpClientAuthentication is disabled"),
)

# Provider and server replies: matched against the reply text.
REPLY_RULES: tuple[Rule, ...] = (
    # A wrong password at Microsoft 365 (its other 5.7.139 replies are policy), and a server whose
    # authentication back end failed ("454 4.7.0 Temporary authentication failure").
    Rule(Cause.AUTH_FAILED, r"user credentials were incorrect"),
    Rule(Cause.SERVER_UNAVAILABLE, r"temporary authentication failure|authentication (?:is )?temporarily unavailable",
         codes=_codes(421, 451, 454)),
    # Microsoft 365 and Gmail policy on basic authentication.
    Rule(Cause.AUTH_DISABLED_BY_POLICY, r"\b5\.7\.139\b|SmtpClientAuthentication is disabled|basic authentication is disabled"),
    Rule(Cause.AUTH_DISABLED_BY_POLICY, r"\b5\.7\.14\b|log in (?:via|with) your web browser|WebLoginRequired"),
    Rule(Cause.AUTH_DISABLED_BY_POLICY, r"\b5\.7\.3\b.*(?:not allowed|disabled)|\b5\.7\.0\b.*account.*disabled"),
    # QQ Mail and NetEase (163.com) call their app passwords "authorization codes".
    Rule(Cause.APP_PASSWORD_REQUIRED, r"\b5\.7\.9\b|application-specific password|app password|enter your authorization code|authorization code to log ?in"),
    # STARTTLS demanded before a command.
    Rule(Cause.STARTTLS_REQUIRED, r"must issue a starttls|starttls (?:is )?required|\b5\.7\.3\b.*starttls|encryption required|must use tls|tls required"),
    Rule(Cause.STARTTLS_UNAVAILABLE, r"tls not available|starttls.*not (?:available|supported)", codes=_codes(454, 502, 500, 503)),
    # A full mailbox (X.2.2) is the recipient's problem, not a sending quota.
    Rule(Cause.RECIPIENT_REJECTED, r"\b[45]\.2\.2\b|mailbox (?:is )?full|mailbox for user is full"),
    # Throttles and quotas, before reputation: Microsoft's 4.7.650/651 cite reputation too.
    Rule(Cause.RATE_LIMITED, r"\b4\.7\.(?:28|500|650|651)\b|receiving mail (?:too quickly|at a rate)|rate limit|too many (?:messages|mails|emails|recipients|connections|login attempts|concurrent)|quota|throttl|sending limit|try again later, closing connection|exceeded the (?:rate|limit)|\b5\.4\.5\b"),
    # Yahoo's [TS0n] and [TSS0n] deferrals; T-Online marks its blocklist "(BL)".
    Rule(Cause.REPUTATION_BLOCKED, r"\[TSS?0\d\]|\(BL\)|spamhaus|block ?list|black ?list|\bDNSBL\b|\bRBL\b|blocked using|reputation|unsolicited mail|banned sender|\b5\.7\.(?:606|511)\b|listed (?:at|on|in)"),
    Rule(Cause.GREYLISTED, r"gr[ae]y ?list"),
    Rule(Cause.SENDER_REJECTED, r"sender address rejected|sender (?:not|is not) (?:authorized|allowed)|not (?:allowed|authorized|permitted) to send as|send as this sender|SendAsDenied|\b5\.7\.60\b|\b5\.1\.[78]\b|sender verify failed|domain of sender"),
    # A server that refuses clients without reverse DNS ("421 Refused. Your reverse DNS entry does not resolve").
    Rule(Cause.POLICY_REJECTED, r"relay access denied|relaying denied|client host rejected|not permitted to relay|unable to relay|relay not permitted|\b5\.7\.54\b|\b5\.7\.2[3-7]\b|spf|dmarc|dkim|policy|reverse dns|reverse lookup|\brdns\b|\bptr record"),
    Rule(Cause.RECIPIENT_REJECTED, r"\b5\.1\.(?:1|2|3|6|10)\b|user unknown|recipient address rejected|no such (?:user|recipient|mailbox)|mailbox (?:unavailable|not found|does not exist)|unknown (?:user|recipient)|does not exist", stages=frozenset({Stage.RCPT_TO, Stage.DATA, Stage.NONE})),
    # "DT:SPM": NetEase (163.com) judged the message spam.
    Rule(Cause.MESSAGE_REJECTED, r"\b5\.3\.4\b|\b5\.2\.3\b|message (?:size|too (?:big|large))|exceeds .*size|\b5\.6\.\d+\b|content rejected|spam|virus|malware|\bDT:SPM\b"),
    Rule(Cause.AUTH_REQUIRED, r"authentication required|not authenticated|\b5\.7\.57\b|auth(?:entication)? (?:is )?needed|must authenticate|sender must authenticate", codes=_codes(530, 550, 553, 554, 503)),
    # Postfix's SASL client: "SASL authentication failed; cannot authenticate to server ...: no mechanism available".
    Rule(Cause.AUTH_MECHANISM_UNSUPPORTED, r"unrecognized authentication type|mechanism (?:not supported|unsupported|not available)|no mechanism available|no worthy mechs|unsupported (?:authentication|auth) mechanism|\b5\.7\.4\b", stages=frozenset({Stage.AUTH})),
    Rule(Cause.AUTH_FAILED, r"\b5\.7\.8\b|username and password not accepted|authentication (?:unsuccessful|failed|credentials invalid)|invalid (?:login|credentials|user ?name or password)|auth(?:entication)? failure|incorrect authentication|bad credentials|login denied", stages=frozenset({Stage.AUTH, Stage.MAIL_FROM})),
    Rule(Cause.SERVER_UNAVAILABLE, r"service not available|\b4\.3\.[0-2]\b|\b4\.4\.5\b|temporar(?:y|ily) (?:local )?(?:problem|failure|unavailable)|internal server error|system (?:not accepting|busy)|server busy|try again later", codes=_codes(421, 450, 451, 452, 454)),
)

# The first reply rules, up to STARTTLS demanded, outrank what the AUTH exchange showed.
AUTH_FIRST = 7

# Client-side exception texts: errno names, OpenSSL and x509 errors, and the
# wording of Java, .NET, Node.js, Go, Ruby and PHP runtimes.
ERROR_RULES: tuple[Rule, ...] = (
    # DNS: an NXDOMAIN-like answer versus a lookup that did not complete.
    # Postfix: "Name service error for name=x type=MX: Host not found" is an
    # NXDOMAIN; the same with ", try again" is a lookup that did not complete.
    Rule(Cause.DNS_NXDOMAIN, r"name service error for name=\S+ type=\w+: host not found(?!, try again)|host unknown \(name server", stage=Stage.DNS),
    Rule(Cause.DNS_FAILURE, r"host name lookup failure|temporary failure in name resolution|\[Errno -3\]|EAI_AGAIN|SERVFAIL|server misbehaving|name service error|lookup .* i/o timeout|dns (?:lookup|resolution) (?:failed|timed out)", stage=Stage.DNS),
    Rule(Cause.DNS_NXDOMAIN, r"getaddrinfo ENOTFOUND|name or service not known|nodename nor servname|no address associated with hostname|\[Errno -[25]\]|\[Errno 1100[14]\]|getaddrinfo failed|UnknownHostException|no such host|remote name could not be resolved|host or domain name not found|NXDOMAIN|could not resolve host|couldn't resolve host|No such host is known|php_network_getaddresses|Name does not resolve", stage=Stage.DNS),
    # TLS spoken to a plain port, or plain text to a TLS port.
    Rule(Cause.TLS_MODE_MISMATCH, r"wrong version number|WRONG_VERSION_NUMBER|unknown protocol|UNKNOWN_PROTOCOL|packet length too long|record layer failure|first record does not look like a TLS handshake|unrecognized SSL message|plaintext connection\?|http request|unsupported record version|ssl3_get_record|tls_get_more_records|record_layer|typically reserved for plain-text connections|unexpected packet format"),
    Rule(Cause.CERTIFICATE_INVALID, r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|unable to get local issuer certificate|self[- ]signed certificate|SELF_SIGNED|certificate has expired|CERT_HAS_EXPIRED|hostname mismatch|doesn't match|does not match certificate's altnames|did not match expected (?:name|CN)|does not match (?:any|the) (?:of the )?(?:subject|(?:server )?certificate)|ERR_TLS_CERT_ALTNAME_INVALID|x509:|PKIX path|remote certificate is invalid|UNABLE_TO_VERIFY_LEAF_SIGNATURE|verify error:num=|certificate is not trusted|unable to verify the first certificate|certificate (?:is )?(?:invalid|not valid)|RemoteCertificateNameMismatch|RemoteCertificateChainErrors|certificate could not be validated|no alternative certificate subject name|IP address mismatch|certificate verification failed|untrusted issuer|server certificate not verified"),
    # The peer closed the connection in the middle of the TLS handshake.
    Rule(Cause.SERVER_DISCONNECTED, r"unexpected eof while reading|UNEXPECTED_EOF_WHILE_READING"),
    Rule(Cause.TLS_HANDSHAKE_FAILURE, r"handshake failure|HANDSHAKE_FAILURE|no protocols available|unsupported protocol|tlsv1 alert|no shared cipher|tls handshake failed|ssl_connect error|cannot start tls|tls startup failed|SSL handshake|handshake_failure|dh key too small|sslv3 alert|TLS negotiation failed|ssl routines|establish an SSL or TLS connection|remote party has closed the transport stream|no appropriate protocol"),
    # TCP.
    Rule(Cause.CONNECT_REFUSED, r"connection refused|ECONNREFUSED|actively refused|\[WinError 10061\]|\[Errno 111\]|\[Errno 61\]", stages=HANDSHAKE, stage=Stage.CONNECT),
    # "Address not available" is EADDRNOTAVAIL in BSD and musl wording (IPv6 without a route, in Alpine containers).
    Rule(Cause.NETWORK_UNREACHABLE, r"network is unreachable|ENETUNREACH|no route to host|EHOSTUNREACH|host is unreachable|cannot assign requested address|address not available|EADDRNOTAVAIL|\[Errno 101\]|\[Errno 113\]|\[WinError 10051\]|\[WinError 10065\]", stages=PRE_CONNECT, stage=Stage.CONNECT),
    Rule(Cause.CONNECT_TIMEOUT, r"dial tcp .*i/o timeout|dial tcp .*timed out|connection timed out|connect timed out|ETIMEDOUT|\[WinError 10060\]|\[Errno 110\]|\[Errno 60\]|operation timed out|OpenTimeout|execution expired|connection attempt failed|timed out|timeout", stages=PRE_CONNECT, stage=Stage.CONNECT),
    Rule(Cause.CONNECTION_RESET, r"connection reset|ECONNRESET|\[Errno 104\]|\[Errno 54\]|forcibly closed|broken pipe|EPIPE|\[WinError 10054\]"),
    Rule(Cause.STARTTLS_UNAVAILABLE, r"TLS is required, but was not offered|starttls extension not supported|(?:does not|doesn't) support starttls|does not support secure connections|\bunencrypted connection\b|starttls (?:is )?not (?:supported|offered|advertised)|STARTTLS.*not.*(?:offered|supported)|did not advertise starttls|didn't find starttls"),
    # SwiftMailer and Symfony Mailer: the server offered no AUTH mechanism that the client has.
    Rule(Cause.AUTH_MECHANISM_UNSUPPORTED, r"no mechanism available|SMTP AUTH extension not supported|server doesn't support AUTH|does not support authentication|no compatible authentication|no suitable authentication|authentication mechanism.*not supported|no supported authentication|none of the .*mechanisms|using 0 possible authenticators|failed to find an authenticator supported"),
    # Sendmail's stat= for a rejected recipient carries no reply code.
    Rule(Cause.RECIPIENT_REJECTED, r"^user unknown|no such user", stages=frozenset({Stage.RCPT_TO})),
    Rule(Cause.CLIENT_ERROR, r"missing credentials|no password (?:given|supplied)|EENVELOPE|no recipients defined|invalid (?:address|mail address)|TypeError|AttributeError|ValueError|NullPointerException"),
    Rule(Cause.READ_TIMEOUT, r"greeting never received|read timed out|timed out|timeout|ETIMEDOUT|deadline exceeded"),
    Rule(Cause.SERVER_DISCONNECTED, r"The server response was:\s*(?:$|\n| --->)|connection unexpectedly closed|closed connection unexpectedly|response reading failed|ServerDisconnected|connection closed|closed by (?:foreign|remote) host|unexpected (?:EOF|end of)|\bEOF\b|socket hang up|lost connection|remote host closed connection|connection (?:was )?(?:lost|dropped|aborted)|ECONNABORTED|net_io_connectionclosed|unexpectedly disconnected|end of file reached|got an empty response|got code "",|closed unexpectedly"),
)

# Generic meaning of a failing reply code at a stage, when no text rule matched.
CODE_FALLBACK: dict[tuple[Stage | None, int], Cause] = {
    (Stage.GREETING, 421): Cause.SERVER_UNAVAILABLE,
    (Stage.GREETING, 554): Cause.POLICY_REJECTED,
    (Stage.AUTH, 535): Cause.AUTH_FAILED,
    (Stage.AUTH, 534): Cause.AUTH_MECHANISM_UNSUPPORTED,
    (Stage.AUTH, 504): Cause.AUTH_MECHANISM_UNSUPPORTED,
    (Stage.AUTH, 538): Cause.STARTTLS_REQUIRED,
    (Stage.AUTH, 454): Cause.AUTH_FAILED,
    (Stage.STARTTLS, 454): Cause.STARTTLS_UNAVAILABLE,
    (Stage.STARTTLS, 502): Cause.STARTTLS_UNAVAILABLE,
    (Stage.MAIL_FROM, 530): Cause.AUTH_REQUIRED,
    (Stage.RCPT_TO, 530): Cause.AUTH_REQUIRED,
    (Stage.MAIL_FROM, 553): Cause.SENDER_REJECTED,
    (Stage.MAIL_FROM, 550): Cause.SENDER_REJECTED,
    (Stage.RCPT_TO, 550): Cause.RECIPIENT_REJECTED,
    (Stage.RCPT_TO, 551): Cause.RECIPIENT_REJECTED,
    (Stage.RCPT_TO, 553): Cause.RECIPIENT_REJECTED,
    (Stage.RCPT_TO, 554): Cause.POLICY_REJECTED,
    (Stage.DATA, 552): Cause.MESSAGE_REJECTED,
    (Stage.DATA, 554): Cause.MESSAGE_REJECTED,
    (Stage.DATA, 550): Cause.MESSAGE_REJECTED,
    (None, 421): Cause.SERVER_UNAVAILABLE,
    (None, 451): Cause.SERVER_UNAVAILABLE,
    (None, 452): Cause.SERVER_UNAVAILABLE,
    (None, 500): Cause.CLIENT_ERROR,
    (None, 501): Cause.CLIENT_ERROR,
    (None, 502): Cause.CLIENT_ERROR,
    (None, 503): Cause.CLIENT_ERROR,
    (None, 504): Cause.CLIENT_ERROR,
}

OAUTH_MECHANISMS = frozenset({"XOAUTH2", "OAUTHBEARER", "XOAUTH"})
CHALLENGE_RE = re.compile(r"\b334 ([A-Za-z0-9+/]{16,}={0,2})")
OAUTH_ERROR_RE = re.compile(r'"status"\s*:\s*"40[01]"|invalid_grant|invalid_token|token (?:has )?expired|expired or revoked', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Failure:
    """The evidence about the step at which a session failed.

    ``text`` is the failing reply or error text; ``context`` is every other
    reply and error text of the session, joined, for rules that need it.
    ``auth`` is a note from the AUTH exchange: ``"no_challenge"`` when the
    server rejected the mechanism before any credentials were sent, and
    ``"empty_credentials"`` when the client sent an empty or placeholder
    user name or password.
    """

    stage: Stage
    text: str
    code: int | None = None
    enhanced: str | None = None
    context: str = ""
    connected: bool = False
    port: int | None = None
    tls_mode: TlsMode | None = None
    mechanism: str | None = None
    auth: str | None = None


def _first(rules: tuple[Rule, ...], stage: Stage, code: int | None, text: str) -> Rule | None:
    if rules is REPLY_RULES or rules is ERROR_RULES or rules is SESSION_RULES:
        key = (id(rules), stage, code)
        entry = _CANDIDATES.get(key)
        if entry is None or entry[0] is not rules:  # the table itself is kept, so a reused id cannot match
            entry = _CANDIDATES[key] = (rules, *_plan(rules, stage, code))
        # Rule.search for each candidate, with the literals of all of them looked for at once: a failure
        # with a text no earlier failure had is tried against up to 18 rules and 100 literals.
        _, index, plan = entry
        candidates, found = index.search(text)
        while candidates:
            lowest = candidates & -candidates  # the first rule, in table order, that could match
            candidates ^= lowest
            rule, split, regex = plan[lowest.bit_length() - 1]
            if split is None:
                if regex.search(text) is not None:
                    return rule
                continue
            for mask, branch in split:
                if (mask is None or found & mask) and branch.search(text) is not None:
                    return rule
        return None
    for rule in rules:
        if rule.matches(stage, code, text):
            return rule
    return None


def _plan(rules: tuple[Rule, ...], stage: Stage, code: int | None) -> tuple[LiteralIndex, tuple[tuple[Any, ...], ...]]:
    """Return how :func:`_first` searches a table for a stage and a reply code.

    The candidates are the rules whose code and stage conditions are met.
    The index contains their literals, one group per rule.  The plan lists them in
    table order, each as (rule, its alternatives each with the mask of
    their literals, its compiled pattern when it has no alternatives).
    """
    candidates = [rule for rule in rules
                  if (rule.codes is None or code in rule.codes) and (rule.stages is None or stage in rule.stages)]
    prepared = [rule._prepare() for rule in candidates]
    index = LiteralIndex((whole for whole, _, _ in prepared),
                         also={literal for _, split, _ in prepared for part, _ in split or () for literal in part or ()})
    plan = tuple((rule, None if split is None else tuple((index.mask(part), branch) for part, branch in split), regex)
                 for rule, (whole, split, regex) in zip(candidates, prepared))
    return index, plan


_CANDIDATES: dict[tuple[int, Stage, int | None], tuple[tuple[Rule, ...], LiteralIndex, tuple[tuple[Any, ...], ...]]] = {}


# An address in angle brackets, as replies quote a sender or recipient ("550 5.1.1 <r@example.org>: ...").
ADDRESS_RE = re.compile(r"<[^<>\s@]*@[^<>\s]*>")


def classify(failure: Failure) -> tuple[Stage, Cause]:
    """Return the failure stage and root cause for a session's failure.

    Rules are tried in this order.  First comes evidence anywhere in the
    session that explains the failure, such as a quoted earlier reply.  Then
    the failing reply's text, the client's error text and what the AUTH
    exchange showed.  Last comes the generic meaning of the reply code at
    that stage.

    Addresses in angle brackets are replaced by ``<address>`` first: no
    rule is about an address, and a word inside one (``<spam-desk@...>``)
    must not decide a cause.  That also lets the results be cached across
    replies that differ only in the recipient, which large MTA logs repeat
    many times.
    """
    if "@" in failure.text or "@" in failure.context:
        failure = replace(failure, text=ADDRESS_RE.sub("<address>", failure.text),
                          context=ADDRESS_RE.sub("<address>", failure.context))
    return _classify(failure)


@lru_cache(maxsize=8192)
def _classify(failure: Failure) -> tuple[Stage, Cause]:
    """Return :func:`classify`'s result for a failure whose addresses are replaced already."""
    stage = failure.stage
    everything = f"{failure.text}\n{failure.context}"

    session_rule = _first(SESSION_RULES, stage, failure.code, everything)
    if session_rule is not None:
        return stage, session_rule.cause

    if failure.code is not None:
        cause = _classify_reply(failure)
        if cause is not None:
            return stage, cause
    elif failure.enhanced is not None:
        # A reply quoted without its code (MailKit's SmtpCommandException prints
        # "5.7.57 Client not authenticated ..."): its text rules apply all the same.
        for rule in REPLY_RULES:
            if (rule.stages is None or stage in rule.stages) and rule.search(failure.text):
                return stage, rule.cause

    rule = _first(ERROR_RULES, stage, failure.code, failure.text)
    if rule is not None:
        return _adjust_network(failure, rule)

    if stage is Stage.AUTH and failure.code is None:
        # A client that gives up on AUTH without a final reply ("curl: (67)
        # Login denied" after an XOAUTH2 error challenge).
        auth_cause = _classify_auth(failure)
        if auth_cause is not None:
            return stage, auth_cause

    if failure.code is None:
        context_rule = _first(ERROR_RULES, stage, None, failure.context)
        if context_rule is not None:
            return _adjust_network(failure, context_rule)
    return stage, Cause.UNKNOWN


def _classify_reply(failure: Failure) -> Cause | None:
    stage = failure.stage
    if stage is Stage.AUTH:
        auth_cause = _classify_auth(failure)
        if auth_cause is not None:
            return auth_cause

    text = failure.text
    if failure.enhanced and failure.enhanced not in text:
        text = f"{failure.enhanced} {text}"
    rule = _first(REPLY_RULES, stage, failure.code, text)
    if rule is not None:
        return rule.cause

    return CODE_FALLBACK.get((stage, failure.code)) or CODE_FALLBACK.get((None, failure.code))


def _classify_auth(failure: Failure) -> Cause | None:
    # Policy and throttling replies outrank anything the client did.
    text = f"{failure.enhanced or ''} {failure.text}"
    rule = _first(REPLY_RULES[:AUTH_FIRST], Stage.AUTH, failure.code, text)
    if rule is not None:
        return rule.cause
    if failure.auth == "empty_credentials":
        return Cause.CLIENT_ERROR
    if failure.auth == "no_challenge" and failure.code in (rc.AUTH_INVALID, rc.PARAMETER_NOT_IMPLEMENTED, rc.AUTH_TOO_WEAK):
        return Cause.AUTH_MECHANISM_UNSUPPORTED
    if (failure.mechanism or "").upper() in OAUTH_MECHANISMS or _oauth_error(failure.context):
        return Cause.OAUTH_TOKEN_INVALID
    return None


def _oauth_error(context: str) -> bool:
    """Return whether the session contains an OAuth error, plain or as a base64 334 challenge."""
    if OAUTH_ERROR_RE.search(context):
        return True
    for challenge in CHALLENGE_RE.findall(context):
        decoded = decode_base64(challenge)
        if decoded and OAUTH_ERROR_RE.search(decoded.decode("utf-8", "replace")):
            return True
    return False


def _adjust_network(failure: Failure, rule: Rule) -> tuple[Stage, Cause]:
    """Apply a client-error rule, then correct TLS mode mistakes the port reveals."""
    stage = rule.stage if rule.stage is not None and not failure.connected else failure.stage
    cause = rule.cause

    # A plain client on an implicit-TLS port waits for a greeting that never
    # comes (the server waits for a ClientHello), then times out or is dropped.
    plain_client = failure.tls_mode in (TlsMode.NONE, TlsMode.STARTTLS, None)
    if (
        failure.port in IMPLICIT_TLS_PORTS
        and plain_client
        and failure.connected
        and stage is Stage.GREETING
        and cause in (Cause.READ_TIMEOUT, Cause.SERVER_DISCONNECTED, Cause.CONNECTION_RESET)
    ):
        return Stage.GREETING, Cause.TLS_MODE_MISMATCH

    # An implicit-TLS client on a plain port reads "220 ..." as a TLS record.
    if failure.tls_mode is TlsMode.IMPLICIT and failure.port in PLAIN_FIRST_PORTS and cause is Cause.TLS_HANDSHAKE_FAILURE:
        return Stage.TLS, Cause.TLS_MODE_MISMATCH

    if cause in (Cause.TLS_MODE_MISMATCH, Cause.CERTIFICATE_INVALID, Cause.TLS_HANDSHAKE_FAILURE) and stage in PRE_CONNECT | {Stage.GREETING}:
        stage = Stage.TLS
    return stage, cause
