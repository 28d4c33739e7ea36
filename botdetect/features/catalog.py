"""The feature catalogue: every `account_features` column, its definition and why.

`botdetect features --describe` prints it; a test checks that it lists exactly the
columns the job writes, so the documentation cannot drift from the table.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Feature:
    name: str  # with `{w}` for windowed features
    family: str
    definition: str
    why: str
    windowed: bool = True
    when_empty: str = "0"


KEY_COLUMNS = ["account_id", "as_of_date", "cluster_id"]

FEATURES: list[Feature] = [
    # Repetitiveness: bots can't write unique messages.
    Feature(
        "self_dup_ratio_{w}d",
        "repetitiveness",
        "1 - distinct normalised texts / tweets (lower-case; URLs, mentions, numbers masked)",
        "template spammers repeat one text with different links",
    ),
    Feature(
        "near_dup_ratio_{w}d",
        "repetitiveness",
        "1 - distinct MinHash band keys (2 word-set MinHashes) / tweets",
        "paraphrasing bots avoid exact repeats but reuse a small word pool",
    ),
    Feature(
        "max_template_accounts",
        "repetitiveness",
        "most accounts posting one of this account's templates in the largest window; "
        "common phrases (short, or posted by > common_template_accounts) excluded",
        "a campaign posts one template from many accounts",
        windowed=False,
    ),
    Feature(
        "campaign_template_share",
        "repetitiveness",
        "share of the account's distinct templates posted by >= campaign_template_accounts "
        "accounts (common phrases excluded), largest window",
        "how much of the account's output is campaign material",
        windowed=False,
    ),
    # Scale: bots scale.
    Feature("tweets_{w}d", "scale", "tweets in the window", "volume"),
    Feature(
        "tweets_per_active_day_{w}d",
        "scale",
        "tweets / days with at least one tweet",
        "bots post a lot on the days they are on",
    ),
    Feature(
        "active_minutes_per_day_{w}d",
        "scale",
        "distinct minutes with a tweet, per active day",
        "humans post in few sittings",
    ),
    Feature(
        "distinct_recipients_{w}d",
        "scale",
        "distinct accounts mentioned or replied to (reply parents resolved within the "
        "same event day)",
        "spam reaches many strangers",
    ),
    Feature(
        "recipients_per_tweet_{w}d",
        "scale",
        "distinct recipients / tweets",
        "each spam tweet targets new victims",
    ),
    Feature(
        "reply_share_{w}d", "scale", "replies or quotes / tweets", "reply spam under popular tweets"
    ),
    Feature("url_share_{w}d", "scale", "tweets with a URL / tweets", "spam links out"),
    Feature(
        "hour_entropy_{w}d",
        "scale",
        "Shannon entropy (bits) of the UTC hour-of-day histogram of tweets",
        "round-the-clock posting has high entropy; people sleep",
    ),
    Feature(
        "night_share_{w}d",
        "scale",
        "tweets in features.night_hours (UTC) / tweets",
        "activity while the platform's users sleep",
    ),
    Feature(
        "gap_cv_{w}d",
        "scale",
        "coefficient of variation of gaps between consecutive tweets, across midnight "
        "and skipped days inside the window",
        "schedulers are regular",
        when_empty="-1 (fewer than two gaps)",
    ),
    Feature(
        "interactions_given_{w}d",
        "scale",
        "retweets, favourites, replies, quotes made",
        "amplification",
    ),
    Feature(
        "retweet_share_given_{w}d",
        "scale",
        "retweets / interactions given",
        "botnets retweet each other",
    ),
    Feature(
        "engagement_per_tweet_{w}d",
        "profile",
        "interactions received on the account's same-day tweets / tweets",
        "nobody engages with spam (except its own botnet)",
    ),
    # Controller: bots have a controller.
    Feature("logins_{w}d", "controller", "login attempts", "activity of the session layer"),
    Feature(
        "failed_login_ratio_{w}d",
        "controller",
        "failed logins / logins",
        "credential stuffing and captcha failures",
    ),
    Feature(
        "sync_login_ratio_{w}d",
        "controller",
        "logins with another account's login on the same non-hot IP within sync_seconds / logins",
        "one controller logs its accounts in together",
    ),
    Feature(
        "distinct_ips_{w}d", "controller", "distinct (pseudonymised) login IPs", "proxy rotation"
    ),
    Feature(
        "distinct_devices_{w}d", "controller", "distinct (pseudonymised) device ids", "device farms"
    ),
    Feature(
        "max_accounts_per_ip",
        "controller",
        "most accounts on one of the account's login IPs (IPs with > hot_ip_accounts "
        "excluded), largest window",
        "botnets share a small IP pool",
        windowed=False,
    ),
    Feature(
        "mean_accounts_per_ip",
        "controller",
        "mean accounts per login IP over the account's non-hot IPs",
        "as above",
        windowed=False,
    ),
    Feature(
        "hot_ips",
        "controller",
        "login IPs used by more than hot_ip_accounts accounts (NAT, campus)",
        "context: shared infrastructure is normal",
        windowed=False,
    ),
    Feature(
        "max_accounts_per_device",
        "controller",
        "most accounts on one of the account's devices (non-hot)",
        "emulator farms reuse devices",
        windowed=False,
    ),
    Feature(
        "mean_accounts_per_device",
        "controller",
        "mean accounts per device over non-hot devices",
        "as above",
        windowed=False,
    ),
    Feature(
        "hot_devices",
        "controller",
        "devices used by more than hot_device_accounts",
        "context",
        windowed=False,
    ),
    Feature(
        "created_same_ip_1d",
        "controller",
        "other accounts created from the same (non-hot) IP within creation_window_seconds",
        "accounts are registered in bursts",
        windowed=False,
    ),
    Feature(
        "created_same_device_1d",
        "controller",
        "other accounts created from the same (non-hot) device within creation_window_seconds",
        "as above",
        windowed=False,
    ),
    # Cluster.
    Feature(
        "cluster_size",
        "cluster",
        "accounts in the account's connected component of the account-IP/device graph "
        "(hot IPs and devices excluded), largest window",
        "botnets form components",
        windowed=False,
        when_empty="1",
    ),
    # Lock-step and near-duplicates across accounts: botnets that share no infrastructure.
    Feature(
        "lockstep_partners",
        "lockstep",
        "accounts whose login and tweet time buckets (lockstep_bucket_seconds, over "
        "lockstep_window_days, crowded buckets left out) share at least lockstep_min_shared "
        "buckets, spread over lockstep_min_phases effective phases of the clock period that "
        "fits them best, with a Jaccard similarity of at least lockstep_min_similarity",
        "one controller schedules its bots: they act in the same minutes, people do not",
        windowed=False,
    ),
    Feature(
        "lockstep_max_similarity",
        "lockstep",
        "the highest Jaccard similarity of bucket sets with a lock-step partner (0.0: none)",
        "a schedule shared closely, not by chance",
        windowed=False,
    ),
    Feature(
        "lockstep_component_size",
        "lockstep",
        "accounts in the account's connected component of the lock-step graph (0: no partner)",
        "a campaign runs many bots on one schedule",
        windowed=False,
    ),
    Feature(
        "nd_twin_accounts",
        "repetitiveness",
        "other accounts that posted a tweet with the same MinHash band key as one of this "
        "account's (keys of more than near_dup_max_accounts accounts are common phrases), "
        "largest window",
        "bots can't write truly unique messages: a campaign rewords one text across accounts",
        windowed=False,
    ),
    Feature(
        "nd_twin_share",
        "repetitiveness",
        "share of the account's distinct MinHash band keys that another account posted too "
        "(common phrases excluded), largest window",
        "how much of the account's output is reworded campaign material",
        windowed=False,
    ),
    # Profile and graph.
    Feature(
        "account_age_days",
        "profile",
        "days from creation to the as-of date",
        "fresh accounts are cheap",
        windowed=False,
    ),
    Feature("is_verified", "profile", "1 if verified", "verified spam is rare", windowed=False),
    Feature(
        "handle_length", "profile", "characters in the handle", "generated handles", windowed=False
    ),
    Feature(
        "handle_digit_ratio",
        "profile",
        "digits / characters in the handle",
        "name12345678 handles",
        windowed=False,
    ),
    Feature(
        "followers",
        "profile",
        "accounts following this one (as of the date)",
        "reach",
        windowed=False,
    ),
    Feature("following", "profile", "accounts this one follows", "follow spam", windowed=False),
    Feature(
        "follower_ratio",
        "profile",
        "followers / max(following, 1)",
        "follow spam gets few follow-backs",
        windowed=False,
    ),
    Feature(
        "reciprocity",
        "profile",
        "mutual follows / following",
        "friends follow back",
        windowed=False,
    ),
    Feature(
        "spam_mutual_follows",
        "neighbourhood",
        "mutual follows with accounts under a standing spam verdict (a spam suspend or lock "
        "by ops, not cleared) at the as-of date; the account's own verdict never counts",
        "a botnet follows itself to look established: the members ops missed have mutual "
        "follows with the ones it caught, while a person who follows back a bot has one",
        windowed=False,
    ),
    Feature(
        "spam_mutual_follow_share",
        "neighbourhood",
        "spam_mutual_follows / mutual follows (0.0 without mutual follows)",
        "a person's mutual follows are mostly friends; a ring member's are its botnet",
        windowed=False,
    ),
    Feature("follows_given_{w}d", "profile", "follows made in the window", "follow sprees"),
    Feature(
        "follows_received_{w}d",
        "profile",
        "follows received in the window",
        "botnets follow each other",
    ),
]


def feature_columns(windows: list[int]) -> list[str]:
    """The model's feature columns, in table order."""
    names: list[str] = []
    for feature in FEATURES:
        if feature.windowed:
            names += [feature.name.format(w=w) for w in windows]
        else:
            names.append(feature.name)
    return names


def describe(windows: list[int]) -> str:
    """The catalogue as a Markdown table."""
    lines = [
        "| column | family | windows | definition | why | no activity |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in FEATURES:
        window_text = ", ".join(f"{w}d" for w in windows) if f.windowed else "-"
        name = f.name.replace("{w}", "<w>")
        lines.append(
            f"| `{name}` | {f.family} | {window_text} | {f.definition} | {f.why} | {f.when_empty} |"
        )
    return "\n".join(lines)
