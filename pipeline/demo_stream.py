"""A deterministic, realistic stream of notification events with its ground truth.

`generate_demo_stream` simulates campaigns sent to users over one to two days and returns
the Kafka records a producer would publish to the events topic, in produce order. The
stream contains the cases the pipeline must deduplicate: a delivery or view reported by
each of a user's devices, provider retries with new event ids and clicks reported twice.
It also contains clicks without a reported view, messages whose `sent` was never
reported, out-of-order arrival, `+09:00` offsets, unknown extra fields and a share of
invalid records.

The ground truth is recorded from the generator's own decisions while it emits each valid
record. It never parses the produced JSON and never calls pipeline code, so it can check
the pipeline's deduplicated counts.

All randomness comes from one `random.Random(config.seed)`, so the same config always
gives byte-identical records. Sets are never iterated during generation because their
order depends on PYTHONHASHSEED.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

EVENT_TYPES: tuple[str, ...] = ("sent", "delivered", "viewed", "clicked", "failed")
CHANNELS: tuple[str, ...] = ("push", "inapp", "sms", "alimtalk", "whatsapp", "email")

# Channels whose delivery and view are reported by the app SDK on each of the user's
# devices. The providers of the other channels report once per message, without a device.
DEVICE_CHANNELS: frozenset[str] = frozenset({"push", "inapp"})

# Share of messages that reach the user. The rest are reported as `failed`.
DELIVERY_RATE: dict[str, float] = {
    "push": 0.92,
    "inapp": 0.92,
    "sms": 0.97,
    "alimtalk": 0.97,
    "whatsapp": 0.97,
    "email": 0.95,
}

# Share of delivered messages that the user views. SMS and AlimTalk rarely report reads.
VIEW_RATE: dict[str, float] = {
    "push": 0.40,
    "inapp": 0.40,
    "sms": 0.15,
    "alimtalk": 0.15,
    "whatsapp": 0.40,
    "email": 0.40,
}

# Provider failure codes per channel, each with a detail text.
FAILURE_REASONS: dict[str, tuple[tuple[str, str], ...]] = {
    "push": (
        ("unregistered_token", "APNs/FCM reports the device token as unregistered"),
        ("invalid_token", "device token is malformed"),
        ("quota_exceeded", "sending quota for this app exceeded"),
    ),
    "inapp": (
        ("unregistered_token", "app instance is no longer registered"),
        ("session_expired", "no active session for the user"),
    ),
    "sms": (
        ("carrier_rejected", "carrier rejected the message"),
        ("invalid_number", "recipient number is not in service"),
        ("spam_blocked", "recipient blocked the sender number"),
    ),
    "alimtalk": (
        ("not_kakao_user", "recipient has no KakaoTalk account"),
        ("template_mismatch", "content does not match the approved template"),
        ("carrier_rejected", "fallback SMS was rejected by the carrier"),
    ),
    "whatsapp": (
        ("not_whatsapp_user", "recipient number is not on WhatsApp"),
        ("rate_limited", "business account hit its messaging limit"),
    ),
    "email": (
        ("mailbox_full", "452 4.2.2 mailbox full"),
        ("hard_bounce", "550 5.1.1 user unknown"),
        ("spam_complaint", "recipient domain rejected the message as spam"),
    ),
}

SENT_LOST_RATE = 0.01  # share of messages whose `sent` report never arrives
VIEW_LOST_RATE = 0.03  # share of clicked messages whose `viewed` report never arrives
RETRY_RATE = 0.05  # share of delivered/failed records that the provider sends again
EMAIL_REOPEN_RATE = 0.30  # share of email views followed by a second open report
DOUBLE_CLICK_RATE = 0.08  # share of clicks that the device reports twice
KST_OFFSET_SHARE = 0.10  # share of records whose occurred_at uses +09:00 instead of Z
TRACE_SHARE = 0.02  # share of valid records that carry the unknown `trace` field
LATE_UPLOAD_RATE = 0.02  # share of device records uploaded minutes late (device offline)
OPTED_OUT_SHARE = 0.02  # share of users that no campaign targets
SPECIAL_USER_ID_SHARE = 0.02  # share of user ids not of the form user-000123

ARRIVAL_JITTER_MS = 30_000  # arrival order is occurred_at plus up to this much jitter
CAMPAIGN_WINDOW_MS = 30 * 3_600_000  # campaigns start within 30 h of config.start
DISPATCH_WINDOW_MS = 10 * 60_000  # one campaign's messages leave within 10 min
RESEND_DELAY_MS = 6 * 3_600_000  # the resend to non-engaged users follows 6 h later

KST_OFFSET_S = 9 * 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

INVALID_KINDS: tuple[str, ...] = (
    "not_json",
    "empty_value",
    "missing_message_id",
    "unknown_channel",
    "bad_user_id",
    "naive_occurred_at",
)


@dataclass(frozen=True)
class DemoConfig:
    """Size, seed and start time of a demo stream."""

    users: int = 3000
    campaigns: int = 6
    seed: int = 20261204
    bad_record_ratio: float = 0.002  # share of records that are invalid
    start: datetime = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # must be timezone-aware


@dataclass(frozen=True)
class DemoRecord:
    """One Kafka record, keyed by the UTF-8 user id (None for some invalid records)."""

    key: bytes | None
    value: bytes


@dataclass
class GroundTruth:
    """The deduplicated counts that the valid records of a demo stream imply.

    `unique` maps user -> channel -> event -> set of message ids. Only combinations with
    at least one message are present. `valid_records` counts every valid record,
    duplicates included. Invalid records are counted in `invalid_records` and never in
    `unique`.
    """

    unique: dict[str, dict[str, dict[str, set[str]]]]
    valid_records: int
    invalid_records: int
    users_with_events: int

    def totals(self, user_id: str) -> dict[str, int]:
        """Count the user's unique messages per event over all channels.

        All five event keys are present, with zeros for an unknown user.
        """
        counts = dict.fromkeys(EVENT_TYPES, 0)
        for events in self.unique.get(user_id, {}).values():
            for event, message_ids in events.items():
                counts[event] += len(message_ids)
        return counts

    def by_channel(self, user_id: str) -> dict[str, dict[str, int]]:
        """Count the user's unique messages per channel and event.

        Only channels with at least one event appear. Each has all five event keys.
        """
        result: dict[str, dict[str, int]] = {}
        for channel, events in self.unique.get(user_id, {}).items():
            counts = dict.fromkeys(EVENT_TYPES, 0)
            for event, message_ids in events.items():
                counts[event] = len(message_ids)
            result[channel] = counts
        return result

    def grand_totals(self) -> dict[str, int]:
        """Sum the unique message counts per event over all users."""
        counts = dict.fromkeys(EVENT_TYPES, 0)
        for user_id in self.unique:
            for event, count in self.totals(user_id).items():
                counts[event] += count
        return counts

    def _count_record(self, user_id: str, channel: str, event: str, message_id: str) -> None:
        """Count one emitted valid record and add its message to `unique`."""
        by_event = self.unique.setdefault(user_id, {}).setdefault(channel, {})
        by_event.setdefault(event, set()).add(message_id)
        self.valid_records += 1


@dataclass
class DemoStream:
    """Records in produce order, their ground truth, and every generated user id."""

    records: list[DemoRecord]
    truth: GroundTruth
    user_ids: list[str]  # every generated user, including users without events


@dataclass(frozen=True)
class _User:
    user_id: str
    display_name: str
    devices: tuple[str, ...]


@dataclass(frozen=True)
class _Template:
    key: str
    title: str
    body: str
    button: str
    url: str


@dataclass(frozen=True)
class _Campaign:
    key: str
    template: _Template
    template_version: int
    channel: str
    send_at_ms: int
    click_rate: float
    targets: tuple[_User, ...]


@dataclass(frozen=True)
class _Message:
    message_id: str
    user: _User
    campaign: _Campaign

    @property
    def channel(self) -> str:
        return self.campaign.channel


_TEMPLATES: tuple[_Template, ...] = (
    _Template(
        "order_shipped",
        "{name}님, 주문하신 상품이 발송되었습니다",
        "주문번호 {order_id} 상품이 {carrier} 택배로 출발했어요. 도착 예정일은 {eta}입니다.",
        "배송 조회",
        "https://shop.example.com/orders/{order_id}",
    ),
    _Template(
        "coupon_expiring",
        "{name}님, 쿠폰이 {days}일 후 만료됩니다",
        "{amount}원 할인 쿠폰을 잊지 마세요. 지금 주문하면 무료 배송까지!",
        "쿠폰 사용하기",
        "https://shop.example.com/coupons",
    ),
    _Template(
        "weekly_digest",
        "Your week in review, {name}",
        "You saved {saved_count} items and {friend_count} friends joined this week.",
        "Open digest",
        "https://app.example.com/digest",
    ),
    _Template(
        "cart_reminder",
        "Still thinking about the {product}?",
        "Your cart is waiting. Prices may change after {deadline}.",
        "Back to cart",
        "https://shop.example.com/cart",
    ),
    _Template(
        "flash_sale",
        "[광고] 오늘 단 하루, 최대 {discount}% 할인 🎁",
        "{name}님이 찜한 상품이 세일 중입니다. 수신거부: 설정 > 알림",
        "지금 보기",
        "https://shop.example.com/sale",
    ),
    _Template(
        "login_alert",
        "New sign-in to your account",
        "We noticed a sign-in from {city} at {time}. If this wasn't you, reset your password.",
        "Review activity",
        "https://app.example.com/security",
    ),
    _Template(
        "review_request",
        "{name}님, 상품은 마음에 드셨나요?",
        "리뷰를 남기면 {points} 포인트를 드려요.",
        "리뷰 쓰기",
        "https://shop.example.com/reviews/new",
    ),
    _Template(
        "payment_failed",
        "Payment for order {order_id} failed",
        "Update your card by {deadline} to keep your subscription active.",
        "Update card",
        "https://app.example.com/billing",
    ),
)

# Fillers for template variables. Only the variables a template uses go into `content`.
_VARIABLE_FILLERS: dict[str, Callable[[random.Random, _User], str | int]] = {
    "name": lambda rng, user: user.display_name,
    "order_id": lambda rng, user: f"20261102-{rng.randrange(10**7):07d}",
    "carrier": lambda rng, user: rng.choice(("CJ대한통운", "한진", "롯데")),
    "eta": lambda rng, user: rng.choice(("11월 4일", "11월 5일", "11월 6일")),
    "days": lambda rng, user: rng.randint(1, 7),
    "amount": lambda rng, user: rng.choice((3000, 5000, 10000)),
    "saved_count": lambda rng, user: rng.randint(1, 40),
    "friend_count": lambda rng, user: rng.randint(0, 5),
    "product": lambda rng, user: rng.choice(("wireless earbuds", "running shoes", "desk lamp")),
    "deadline": lambda rng, user: rng.choice(("Friday", "Sunday", "Nov 10")),
    "discount": lambda rng, user: rng.choice((30, 50, 70)),
    "city": lambda rng, user: rng.choice(("Seoul", "Busan", "Incheon", "Tokyo")),
    "time": lambda rng, user: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
    "points": lambda rng, user: rng.choice((500, 1000, 2000)),
}

# Variable names per template key, in filler order.
_TEMPLATE_VARIABLES: dict[str, tuple[str, ...]] = {
    template.key: tuple(
        name for name in _VARIABLE_FILLERS if "{" + name + "}" in template.title + template.body
    )
    for template in _TEMPLATES
}

_SURNAMES_KO = ("김", "이", "박", "최", "정", "강", "조", "윤")
_GIVEN_NAMES_KO = ("민지", "서준", "지우", "하은", "도윤", "서연", "예준", "지호")
_SURNAMES_ROMAN = ("kim", "lee", "park", "choi", "jung", "kang", "cho", "yoon")
_GIVEN_NAMES_ROMAN = ("minji", "seojun", "jiwoo", "haeun", "doyoon", "seoyeon", "yejun", "jiho")
_DEVICE_PLATFORMS = ("ios", "android", "web")


def generate_demo_stream(config: DemoConfig = DemoConfig()) -> DemoStream:  # noqa: B008
    """Generate the records and ground truth for `config`.

    The same config always returns byte-identical records. Raises ValueError for an
    invalid config.

    NOTE: byte identity is only tested within one Python version. The random module
    guarantees the random() sequence for a seed across versions, but not choice, sample,
    shuffle or randrange.
    """
    _validate_config(config)
    rng = random.Random(config.seed)

    users = _generate_users(rng, config.users)
    campaigns = _generate_campaigns(rng, config, users)

    builder = _StreamBuilder(rng)
    for campaign in campaigns:
        _simulate_campaign(builder, campaign)
    records = builder.records_in_arrival_order()

    invalid = _generate_invalid_records(rng, config, users, len(records))
    _insert_at_random_positions(rng, records, invalid)

    truth = builder.truth
    truth.invalid_records = len(invalid)
    truth.users_with_events = len(truth.unique)
    return DemoStream(records=records, truth=truth, user_ids=[user.user_id for user in users])


def _validate_config(config: DemoConfig) -> None:
    if config.users < 1:
        raise ValueError(f"DemoConfig.users must be at least 1, got {config.users}")
    if config.campaigns < 1:
        raise ValueError(f"DemoConfig.campaigns must be at least 1, got {config.campaigns}")
    if not 0.0 <= config.bad_record_ratio < 1.0:
        raise ValueError(
            f"DemoConfig.bad_record_ratio must be in [0, 1), got {config.bad_record_ratio}"
        )
    if config.start.tzinfo is None or config.start.utcoffset() is None:
        raise ValueError(
            f"DemoConfig.start must be timezone-aware, got {config.start.isoformat()}. "
            "Pass tzinfo=UTC."
        )


# --- users -------------------------------------------------------------------------------


def _generate_users(rng: random.Random, count: int) -> list[_User]:
    user_ids = _generate_user_ids(rng, count)
    return [_User(user_id, _display_name(rng), _generate_devices(rng)) for user_id in user_ids]


def _generate_user_ids(rng: random.Random, count: int) -> list[str]:
    """Generate unique ids: mostly user-000123, about 2% in other allowed shapes.

    From 100 users on, the list also contains one id of the maximum length of 80
    characters and, when a special id has capitals, its lowercase twin, so consumers
    that fold case would merge two users.
    """
    used_ids: set[str] = set()
    user_ids: list[str] = []
    for index in range(count):
        user_id = f"user-{index:06d}"
        if rng.random() < SPECIAL_USER_ID_SHARE:
            user_id = _unique_special_user_id(rng, used_ids, index)
        used_ids.add(user_id)
        user_ids.append(user_id)

    if count >= 100:
        _add_edge_case_user_ids(rng, user_ids, used_ids)
    return user_ids


def _unique_special_user_id(rng: random.Random, used_ids: set[str], index: int) -> str:
    for _ in range(20):
        candidate = _special_user_id(rng)
        if candidate not in used_ids:
            return candidate
    # Every short shape was taken, so the index makes the id unique.
    return f"{_special_user_id(rng)}.{index}"


def _special_user_id(rng: random.Random) -> str:
    surname = rng.choice(_SURNAMES_ROMAN)
    given_name = rng.choice(_GIVEN_NAMES_ROMAN)
    shape = rng.randrange(4)
    if shape == 0:
        return f"{surname}.{given_name}_{rng.randrange(100):02d}"
    if shape == 1:
        return f"{given_name[0].upper()}-{surname.capitalize()}.{rng.randint(1, 9)}"
    if shape == 2:
        return f"{given_name}{rng.randint(1980, 2009)}"
    return f"{surname.upper()}_{given_name}-{rng.randrange(1000)}"


def _add_edge_case_user_ids(rng: random.Random, user_ids: list[str], used_ids: set[str]) -> None:
    """Replace two plain user-NNNNNN ids with a max-length id and a lowercase twin."""
    plain_slots = [i for i, user_id in enumerate(user_ids) if user_id.startswith("user-")]
    if len(plain_slots) < 2:
        return
    max_slot, twin_slot = rng.sample(plain_slots, 2)

    user_ids[max_slot] = "ext." + f"{rng.getrandbits(304):076x}"[:76]

    with_capitals = [u for u in user_ids if not u.startswith("user-") and u.lower() != u]
    twins = [u.lower() for u in with_capitals if u.lower() not in used_ids]
    if twins:
        user_ids[twin_slot] = twins[0]


def _display_name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES_KO) + rng.choice(_GIVEN_NAMES_KO)


def _generate_devices(rng: random.Random) -> tuple[str, ...]:
    """Generate 1-3 devices: one 40% of the time, two 40%, three 20%."""
    roll = rng.random()
    count = 3
    if roll < 0.40:
        count = 1
    elif roll < 0.80:
        count = 2
    return tuple(
        f"{rng.choice(_DEVICE_PLATFORMS)}-{rng.getrandbits(48):012x}" for _ in range(count)
    )


# --- campaigns ---------------------------------------------------------------------------


def _generate_campaigns(
    rng: random.Random, config: DemoConfig, users: list[_User]
) -> list[_Campaign]:
    """Generate campaigns spread over 30 h, each targeting 30-90% of the opted-in users.

    With six or more campaigns every channel is used at least once.
    """
    channels = list(CHANNELS)
    rng.shuffle(channels)
    templates = list(_TEMPLATES)
    rng.shuffle(templates)
    opted_in = [user for user in users if rng.random() >= OPTED_OUT_SHARE]
    target_shares = _spread_target_shares(rng, config.campaigns)
    start_ms = _to_epoch_ms(config.start)
    slot_ms = CAMPAIGN_WINDOW_MS // config.campaigns

    campaigns: list[_Campaign] = []
    for index in range(config.campaigns):
        channel = channels[index] if index < len(channels) else rng.choice(CHANNELS)
        template = templates[index % len(templates)]
        send_at_ms = start_ms + index * slot_ms + rng.randrange(max(1, slot_ms // 4))
        target_count = round(len(opted_in) * target_shares[index])
        campaigns.append(
            _Campaign(
                key=f"c{index + 1:02d}-{template.key}",
                template=template,
                template_version=rng.randint(1, 7),
                channel=channel,
                send_at_ms=send_at_ms,
                click_rate=rng.uniform(0.10, 0.25),
                targets=tuple(rng.sample(opted_in, target_count)),
            )
        )
    return campaigns


def _spread_target_shares(rng: random.Random, count: int) -> list[float]:
    """Draw one target share in 30-90% per campaign, stratified so the mean stays near 60%.

    With independent draws, the mean share of a few campaigns can land far from 60%, and
    the stream size with it.
    """
    width = 0.60 / count
    shares = [0.30 + (index + rng.random()) * width for index in range(count)]
    rng.shuffle(shares)
    return shares


def _simulate_campaign(builder: _StreamBuilder, campaign: _Campaign) -> None:
    """Send the campaign, then resend it 6 h later to users who got it but did not engage.

    "Resend to non-openers" is a common campaign feature. The resend is a new message
    with its own message_id and the same template.
    """
    non_engaged = [
        user
        for user in campaign.targets
        if builder.simulate_message(campaign, user, campaign.send_at_ms)
    ]
    resend_at_ms = campaign.send_at_ms + RESEND_DELAY_MS
    for user in non_engaged:
        builder.simulate_message(campaign, user, resend_at_ms)


# --- valid records -----------------------------------------------------------------------


class _StreamBuilder:
    """Simulate messages, emit their valid records and record the ground truth."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.truth = GroundTruth(unique={}, valid_records=0, invalid_records=0, users_with_events=0)
        self._pending: list[tuple[int, int, DemoRecord]] = []  # (arrival ms, sequence, record)

    def records_in_arrival_order(self) -> list[DemoRecord]:
        """Return the emitted records sorted by arrival time, ties in emit order."""
        self._pending.sort()  # sequence numbers are unique, so records are never compared
        return [record for _, _, record in self._pending]

    def simulate_message(self, campaign: _Campaign, user: _User, send_at_ms: int) -> bool:
        """Simulate one message from dispatch to click and emit what gets reported.

        Returns whether the message was delivered and the user neither viewed nor clicked
        it, which makes the user a resend target.
        """
        rng = self.rng
        message = _Message(_random_uuid4(rng), user, campaign)
        sent_at = send_at_ms + _uniform_int(rng, 0, DISPATCH_WINDOW_MS - 1)

        if rng.random() >= SENT_LOST_RATE:
            self._emit("sent", message, sent_at, extra=self._sent_fields(message))

        if rng.random() >= DELIVERY_RATE[message.channel]:
            self._report_failed(message, sent_at + self._delivery_latency_ms(message.channel))
            return False

        delivered_at = sent_at + self._delivery_latency_ms(message.channel)
        self._report_from_devices("delivered", message, delivered_at, retries=True)
        return not self._simulate_engagement(message, delivered_at)

    def _simulate_engagement(self, message: _Message, delivered_at: int) -> bool:
        """Emit the view and click of a delivered message, if the user engages.

        Returns whether the user viewed the message. A clicked message loses its view
        report 3% of the time, so the stream contains clicks without a view. An email open
        is sometimes reported again when the user reopens the email.
        """
        rng = self.rng
        if rng.random() >= VIEW_RATE[message.channel]:
            return False

        viewed_at = delivered_at + self._view_delay_ms()
        clicked = rng.random() < message.campaign.click_rate
        view_lost = clicked and rng.random() < VIEW_LOST_RATE
        if not view_lost:
            self._report_from_devices("viewed", message, viewed_at, retries=False)
        if not view_lost and message.channel == "email" and rng.random() < EMAIL_REOPEN_RATE:
            reopened_at = viewed_at + _uniform_int(rng, 60_000, 3 * 3_600_000)
            self._emit("viewed", message, reopened_at)

        if clicked:
            self._report_click(message, viewed_at + self._click_delay_ms())
        return True

    def _report_failed(self, message: _Message, failed_at: int) -> None:
        code, detail = self.rng.choice(FAILURE_REASONS[message.channel])
        extra = {"reason": {"code": code, "detail": detail}}
        self._emit_with_retry("failed", message, failed_at, device_id=None, extra=extra)

    def _report_from_devices(
        self, event: str, message: _Message, at_ms: int, *, retries: bool
    ) -> None:
        """Emit one record per device for push/inapp, else one provider record.

        Device reports of one event lie within 4 s of each other.
        """
        if message.channel not in DEVICE_CHANNELS:
            self._emit_once_or_retry(event, message, at_ms, None, retries)
            return

        for device_id in message.user.devices:
            device_at = at_ms + _uniform_int(self.rng, 0, 3999)
            self._emit_once_or_retry(event, message, device_at, device_id, retries)

    def _emit_once_or_retry(
        self, event: str, message: _Message, at_ms: int, device_id: str | None, retries: bool
    ) -> None:
        if retries:
            self._emit_with_retry(event, message, at_ms, device_id=device_id, extra=None)
        else:
            self._emit(event, message, at_ms, device_id=device_id)

    def _report_click(self, message: _Message, clicked_at: int) -> None:
        """Emit a click from one of the user's devices, sometimes twice."""
        rng = self.rng
        device_id = rng.choice(message.user.devices)
        campaign = message.campaign
        url = f"{campaign.template.url.split('{')[0]}?utm_campaign={campaign.key}"
        extra = {"action": {"button": campaign.template.button, "url": url}}
        self._emit("clicked", message, clicked_at, device_id=device_id, extra=extra)

        if rng.random() < DOUBLE_CLICK_RATE:
            again_at = clicked_at + _uniform_int(rng, 0, 1999)
            self._emit("clicked", message, again_at, device_id=device_id, extra=extra)

    def _emit_with_retry(
        self,
        event: str,
        message: _Message,
        at_ms: int,
        *,
        device_id: str | None,
        extra: dict[str, Any] | None,
    ) -> None:
        """Emit a record and, 5% of the time, the provider's retry of it.

        The retry has a new event_id, an occurred_at up to 900 ms earlier or later, and
        arrives 1-60 s after the original.
        """
        self._emit(event, message, at_ms, device_id=device_id, extra=extra)

        rng = self.rng
        if rng.random() < RETRY_RATE:
            shift = _uniform_int(rng, 100, 900) * (1 if rng.random() < 0.5 else -1)
            self._emit(
                event,
                message,
                at_ms + shift,
                device_id=device_id,
                extra=extra,
                arrival_delay_ms=_uniform_int(rng, 1000, 60_000) - shift,
            )

    def _emit(
        self,
        event: str,
        message: _Message,
        at_ms: int,
        *,
        device_id: str | None = None,
        extra: dict[str, Any] | None = None,
        arrival_delay_ms: int = 0,
    ) -> None:
        """Append one valid record and add it to the ground truth."""
        rng = self.rng
        payload: dict[str, Any] = {
            "event": event,
            "user_id": message.user.user_id,
            "message_id": message.message_id,
            "channel": message.channel,
            "occurred_at": _format_occurred_at(at_ms, kst=rng.random() < KST_OFFSET_SHARE),
            "event_id": _random_uuid4(rng),
        }
        if device_id is not None:
            payload["device_id"] = device_id
        if extra:
            payload.update(extra)
        if rng.random() < TRACE_SHARE:
            payload["trace"] = {"trace_id": f"{rng.getrandbits(128):032x}", "sampled": True}

        arrival = at_ms + arrival_delay_ms + _uniform_int(rng, 0, ARRIVAL_JITTER_MS - 1)
        if device_id is not None and rng.random() < LATE_UPLOAD_RATE:
            arrival += _uniform_int(rng, 60_000, 20 * 60_000)

        record = DemoRecord(key=message.user.user_id.encode(), value=_encode(payload))
        self._pending.append((arrival, len(self._pending), record))
        self.truth._count_record(message.user.user_id, message.channel, event, message.message_id)

    def _sent_fields(self, message: _Message) -> dict[str, Any]:
        campaign = message.campaign
        template = campaign.template
        variables = _fill_variables(self.rng, template, message.user)
        return {
            "template": {"key": template.key, "version": campaign.template_version},
            "content": {
                "title": template.title.format(**variables),
                "body": template.body.format(**variables),
                "variables": variables,
            },
        }

    def _delivery_latency_ms(self, channel: str) -> int:
        low, high = {
            "push": (150, 3000),
            "inapp": (100, 2000),
            "sms": (1000, 20_000),
            "alimtalk": (800, 15_000),
            "whatsapp": (500, 5000),
            "email": (1000, 90_000),
        }[channel]
        return _uniform_int(self.rng, low, high)

    def _view_delay_ms(self) -> int:
        """Draw a view delay: 35% within a minute, 45% within an hour, the rest up to 12 h."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            return _uniform_int(rng, 2000, 60_000)
        if roll < 0.80:
            return _uniform_int(rng, 60_000, 3_600_000)
        return _uniform_int(rng, 3_600_000, 12 * 3_600_000)

    def _click_delay_ms(self) -> int:
        rng = self.rng
        if rng.random() < 0.8:
            return _uniform_int(rng, 1000, 30_000)
        return _uniform_int(rng, 30_000, 600_000)


def _fill_variables(rng: random.Random, template: _Template, user: _User) -> dict[str, str | int]:
    names = _TEMPLATE_VARIABLES[template.key]
    return {name: _VARIABLE_FILLERS[name](rng, user) for name in names}


# --- invalid records ---------------------------------------------------------------------


def _generate_invalid_records(
    rng: random.Random, config: DemoConfig, users: list[_User], valid_count: int
) -> list[DemoRecord]:
    """Generate invalid records so they make up about `bad_record_ratio` of the stream.

    With a positive ratio and at least 1000 valid records, every kind in INVALID_KINDS
    appears at least once.
    """
    ratio = config.bad_record_ratio
    if ratio <= 0.0:
        return []

    count = round(valid_count * ratio / (1.0 - ratio))
    if valid_count >= 1000:
        count = max(count, len(INVALID_KINDS))

    start_ms = _to_epoch_ms(config.start)
    records: list[DemoRecord] = []
    for index in range(count):
        kind = INVALID_KINDS[index] if index < len(INVALID_KINDS) else rng.choice(INVALID_KINDS)
        user = rng.choice(users)
        at_ms = start_ms + rng.randrange(CAMPAIGN_WINDOW_MS)
        records.append(_invalid_record(rng, kind, user, at_ms))
    return records


def _invalid_record(rng: random.Random, kind: str, user: _User, at_ms: int) -> DemoRecord:
    """Build one record that breaks the event contract in the way `kind` names."""
    key = None if rng.random() < 0.5 else user.user_id.encode()
    if kind == "not_json":
        value = rng.choice((b"\xff\xfe{oops", b'{"event":"sent","user_id":', b"sent,user-1,push"))
        return DemoRecord(key, value)
    if kind == "empty_value":
        return DemoRecord(key, b"")

    payload: dict[str, Any] = {
        "event": rng.choice(EVENT_TYPES),
        "user_id": user.user_id,
        "message_id": _random_uuid4(rng),
        "channel": rng.choice(CHANNELS),
        "occurred_at": _format_occurred_at(at_ms, kst=False),
    }
    if kind == "missing_message_id":
        del payload["message_id"]
    elif kind == "unknown_channel":
        payload["channel"] = "fax"
    elif kind == "bad_user_id":
        payload["user_id"] = "kim minji"
        key = None if key is None else b"kim minji"
    elif kind == "naive_occurred_at":
        payload["occurred_at"] = payload["occurred_at"].removesuffix("Z")
    else:
        raise ValueError(f"unknown invalid record kind {kind!r}, expected one of {INVALID_KINDS}")
    return DemoRecord(key, _encode(payload))


def _insert_at_random_positions(
    rng: random.Random, records: list[DemoRecord], extra: list[DemoRecord]
) -> None:
    for record in extra:
        records.insert(rng.randrange(len(records) + 1), record)


# --- encoding ----------------------------------------------------------------------------


# json.dumps(payload, ensure_ascii=False, separators=(",", ":")) gives the same text, but it
# builds a new encoder on every call, so all records share this one.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _encode(payload: dict[str, Any]) -> bytes:
    return _JSON_ENCODER.encode(payload).encode()


def _to_epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _format_occurred_at(epoch_ms: int, *, kst: bool) -> str:
    """Format an instant as RFC 3339 with milliseconds, in UTC with Z or in +09:00.

    time.gmtime only converts the given number, so the output is deterministic. It avoids
    building a datetime per record.
    """
    seconds, millis = divmod(epoch_ms, 1000)
    suffix = "Z"
    if kst:
        seconds += KST_OFFSET_S
        suffix = "+09:00"
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}{suffix}"


def _random_uuid4(rng: random.Random) -> str:
    """Return a version-4 UUID string drawn from `rng`, equal to uuid.UUID(int=..., version=4)."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)
    digits = f"{bits:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _uniform_int(rng: random.Random, low: int, high: int) -> int:
    """Draw an integer in [low, high] with one rng.random() call, which is faster than randint."""
    return low + int(rng.random() * (high - low + 1))
