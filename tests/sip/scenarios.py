"""sipp scenarios: what a desk phone sends, written out in full.

``[service]``, ``[domain]`` and other ``-key`` values are filled in by sipp; what sipp does not
fill inside XML attributes (expected codes, waits) is filled in here.
"""

from __future__ import annotations

import re

SDP = """v=0
o=phone 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""


def _scenario(name: str, body: str) -> str:
    head = '<?xml version="1.0" encoding="ISO-8859-1" ?>'
    return f'{head}\n<scenario name="{name}">\n{body}</scenario>\n'


def _send(message: str, retrans: bool = True) -> str:
    attribute = ' retrans="500"' if retrans else ""
    return f"  <send{attribute}><![CDATA[\n{message.strip()}\n\n]]></send>\n"


def _request(method: str, cseq: int, *, to: str, extra: str = "", body: str = "") -> str:
    """A request from ``[service]@[domain]`` to ``to`` (``user@domain``)."""
    headers = f"""{method} sip:{to} SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[service]@[domain]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{to}>
Call-ID: [call_id]
CSeq: {cseq} {method}
Max-Forwards: 70
{extra}"""
    if body:
        return f"{headers}Content-Type: application/sdp\nContent-Length: [len]\n\n{body}"
    return f"{headers}Content-Length: 0\n"


TARGET = "[target]@[target_domain]"  # whom a call or a BLF key is for (-key target, target_domain)


def register(expect: int, *, user_agent: str = "deskprov-test", contact_port: str = "") -> str:
    """REGISTER, answer the 401 challenge with the password, expect ``expect``."""
    contact = f"Contact: <sip:[service]@[local_ip]:{contact_port or '[local_port]'}>\n"
    extra = f"{contact}Expires: 300\nUser-Agent: {user_agent}\n"
    return _scenario(
        "register",
        _send(_request("REGISTER", 1, to="[service]@[domain]", extra=extra))
        + '  <recv response="401" auth="true"/>\n'
        + _send(
            _request("REGISTER", 2, to="[service]@[domain]", extra=extra + "[authentication]\n")
        )
        + f'  <recv response="{expect}"/>\n',
    )


def _ack(cseq: int, to: str = TARGET) -> str:
    return f"""ACK sip:{to} SIP/2.0
[last_Via:]
From: <sip:[service]@[domain]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{to}>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0
"""


def _in_dialog(method: str, cseq: int, extra: str = "", to: str = TARGET) -> str:
    return f"""{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:[service]@[domain]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{to}>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} {method}
Max-Forwards: 70
{extra}Content-Length: 0
"""


def _invite(expect: int, to: str = TARGET) -> str:
    """INVITE ``to``, answering the 407 challenge; for 200 the ACK, else expect that answer."""
    contact = "Contact: <sip:[service]@[local_ip]:[local_port]>\n"
    steps = (
        _send(_request("INVITE", 1, to=to, extra=contact, body=SDP))
        + '  <recv response="100" optional="true"/>\n'
        + '  <recv response="407" auth="true"/>\n'
        + _send(_ack(1, to), retrans=False)
        + _send(_request("INVITE", 2, to=to, extra=contact + "[authentication]\n", body=SDP))
        + '  <recv response="100" optional="true"/>\n'
    )
    if expect != 200:
        return steps + f'  <recv response="{expect}"/>\n' + _send(_ack(2, to), retrans=False)
    return (
        steps
        + '  <recv response="180" optional="true"/>\n'
        + '  <recv response="183" optional="true"/>\n'
        + '  <recv response="180" optional="true"/>\n'
        + '  <recv response="200" rrs="true"/>\n'
        + _send(_in_dialog("ACK", 2, to=to), retrans=False)
    )


def call(expect: int, *, transfer: bool = True) -> str:
    """INVITE ``[target]`` (answering the 407 challenge); 200: ACK, a blind transfer of the
    callee to ``[transfer_to]`` (REFER inside the call, 202 from the callee) unless not
    ``transfer``, BYE. Else expect that final answer."""
    steps = _invite(expect)
    if expect != 200:
        return _scenario("refused call", steps)
    steps += '  <pause milliseconds="200"/>\n'
    if transfer:
        steps += (
            _send(
                _in_dialog(
                    "REFER",
                    3,
                    "Refer-To: <sip:[transfer_to]@[domain]>\n"
                    "Referred-By: <sip:[service]@[domain]>\n"
                    "Contact: <sip:[service]@[local_ip]:[local_port]>\n",
                )
            )
            + '  <recv response="202"/>\n'
        )
    steps += _send(_in_dialog("BYE", 4)) + '  <recv response="200"/>\n'
    return _scenario("call", steps)


def _reply(status: str, *, tag: bool = True, body: str = "") -> str:
    head = f"""SIP/2.0 {status}
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:]{";tag=[pid]SIPpTag01[call_number]" if tag else ""}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
"""
    if body:
        return f"{head}Content-Type: application/sdp\nContent-Length: [len]\n\n{body}"
    return f"{head}Content-Length: 0\n"


def _answer(transfer: bool) -> str:
    steps = (
        '  <recv request="INVITE" crlf="true"/>\n'
        + _send(_reply("180 Ringing"), retrans=False)
        + '  <pause milliseconds="200"/>\n'
        + _send(_reply("200 OK", body=SDP))
        + '  <recv request="ACK" crlf="true"/>\n'
    )
    if transfer:
        steps += '  <recv request="REFER"/>\n' + _send(
            _reply("202 Accepted", tag=False), retrans=False
        )
    return steps + '  <recv request="BYE"/>\n' + _send(_reply("200 OK", tag=False), retrans=False)


def callee(*, transfer: bool = True) -> str:
    """A phone that rings, answers, accepts being transferred (REFER) unless not ``transfer``,
    and hangs up when the caller does."""
    return _scenario("callee", _answer(transfer))


def transferee() -> str:
    """A phone that answers, is transferred (REFER to ``[transfer_to]``), and, once the caller
    has hung up, calls ``[transfer_to]`` itself as a phone does for a blind transfer (a new
    call, authenticated, which the target answers)."""
    to = "[transfer_to]@[domain]"
    steps = _answer(transfer=True) + _invite(200, to=to)
    steps += _send(_in_dialog("BYE", 4, to=to)) + '  <recv response="200"/>\n'
    return _scenario("transferee", steps)


def rings() -> str:
    """A phone that rings and is never answered: the call is cancelled (another phone took it,
    or its ring time ran out)."""
    return _scenario(
        "rings unanswered",
        '  <recv request="INVITE" crlf="true"/>\n'
        + _send(_reply("180 Ringing"), retrans=False)
        + '  <recv request="CANCEL"/>\n'
        + _send(_reply("200 OK", tag=False), retrans=False)
        + _send(
            _reply("487 Request Terminated").replace(
                "[last_CSeq:]", "CSeq: [last_cseq_number] INVITE"
            ),
            retrans=False,
        )
        + '  <recv request="ACK"/>\n',
    )


def from_gateway(expect: int = 200) -> str:
    """The PSTN gateway calls ``[target]`` (a number) from outside: no challenge; answered,
    then hung up (or expect that final answer)."""
    invite = (
        """INVITE sip:[target]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:+12125550123@[local_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[target]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:+12125550123@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

"""
        + SDP
    )
    in_dialog = """{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:+12125550123@[local_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[target]@[remote_ip]>[peer_tag_param]
Call-ID: [call_id]
CSeq: {cseq} {method}
Max-Forwards: 70
Content-Length: 0
"""
    steps = _send(invite) + '  <recv response="100" optional="true"/>\n'
    if expect != 200:
        ack = (
            in_dialog.format(method="ACK", cseq=1)
            .replace("[next_url]", "sip:[target]@[remote_ip]:[remote_port]")
            .replace("[routes]\n", "")
        )
        return _scenario(
            "refused from the gateway",
            steps + f'  <recv response="{expect}"/>\n' + _send(ack, retrans=False),
        )
    return _scenario(
        "from the gateway",
        steps
        + '  <recv response="180" optional="true"/>\n'
        + '  <recv response="200" rrs="true"/>\n'
        + _send(in_dialog.format(method="ACK", cseq=1), retrans=False)
        + '  <pause milliseconds="200"/>\n'
        + _send(in_dialog.format(method="BYE", cseq=2))
        + '  <recv response="200"/>\n',
    )


def watch(notifies: int, expect: int = 200) -> str:
    """A BLF key: SUBSCRIBE to ``[target]``'s dialogs (Event: dialog), answer ``notifies``
    NOTIFYs (or expect the SUBSCRIBE refused with ``expect``)."""
    extra = (
        "Contact: <sip:[service]@[local_ip]:[local_port]>\nEvent: dialog\n"
        "Accept: application/dialog-info+xml\nExpires: 120\n"
    )
    ok = """SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[service]@[local_ip]:[local_port]>
Content-Length: 0
"""
    steps = (
        _send(_request("SUBSCRIBE", 1, to=TARGET, extra=extra))
        + '  <recv response="407" auth="true"/>\n'
        + _send(_request("SUBSCRIBE", 2, to=TARGET, extra=extra + "[authentication]\n"))
        + f'  <recv response="{expect}"/>\n'
    )
    for _ in range(notifies if expect == 200 else 0):
        steps += '  <recv request="NOTIFY"/>\n' + _send(ok, retrans=False)
    return _scenario("blf watcher", steps)


def unauthenticated(method: str, expect: int) -> str:
    """A request nobody is asked to authenticate, refused outright with ``expect``."""
    return _scenario(
        "refused outright",
        _send(
            _request(
                method, 1, to=TARGET, extra="Contact: <sip:[service]@[local_ip]:[local_port]>\n"
            )
        )
        + f'  <recv response="{expect}"/>\n',
    )


def forged_in_dialog(method: str, expect: int) -> str:
    """A request that claims to be inside a call through the server (a To tag, the server in its
    route set) but is not, towards ``[target]``: a relay attempt."""
    return _scenario(
        "forged in-dialog request",
        _send(
            f"""{method} sip:[target] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Route: <sip:[remote_ip]:[remote_port];lr>
From: <sip:[service]@[domain]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[target]>;tag=forged
Call-ID: [call_id]
CSeq: 7 {method}
Max-Forwards: 70
Content-Length: 0
"""
        )
        + f'  <recv response="{expect}"/>\n',
    )


def dialog_states(messages: str) -> list[str]:
    """The dialog states in the NOTIFY bodies a watcher received, in order."""
    return re.findall(r"<state>\s*(\w+)\s*</state>", messages)


def statuses(messages: str) -> list[str]:
    """The status lines of the responses sipp received."""
    return re.findall(r"^SIP/2\.0 (\d{3} [^\r\n]*)", messages, re.MULTILINE)
