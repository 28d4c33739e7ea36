"""Vocabularies and templates for synthetic tweets.

A template is a list of slots; each slot is a list of alternatives and one is drawn per
tweet. A naive spammer's template has one alternative per slot (exact duplicates once
URLs and numbers are masked); a paraphrasing bot's has five or six (few exact duplicates,
many near-duplicates). `{url}`, `{num}` and `{tag}` are filled per tweet.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from botdetect.draws import uniform
from botdetect.generate.randomness import pick, randint

Template = list[list[str]]

HUMAN_WORDS = [
    "the",
    "a",
    "my",
    "our",
    "your",
    "this",
    "that",
    "today",
    "tonight",
    "tomorrow",
    "yesterday",
    "week",
    "weekend",
    "morning",
    "evening",
    "coffee",
    "tea",
    "lunch",
    "dinner",
    "breakfast",
    "pizza",
    "soup",
    "bread",
    "cake",
    "game",
    "match",
    "team",
    "season",
    "goal",
    "win",
    "lost",
    "love",
    "hate",
    "like",
    "miss",
    "need",
    "want",
    "think",
    "know",
    "feel",
    "hope",
    "wish",
    "guess",
    "really",
    "actually",
    "honestly",
    "maybe",
    "finally",
    "again",
    "still",
    "just",
    "never",
    "always",
    "sometimes",
    "usually",
    "great",
    "good",
    "bad",
    "weird",
    "funny",
    "sad",
    "happy",
    "tired",
    "busy",
    "late",
    "early",
    "long",
    "short",
    "new",
    "old",
    "big",
    "small",
    "best",
    "worst",
    "favourite",
    "first",
    "last",
    "next",
    "movie",
    "show",
    "book",
    "song",
    "album",
    "concert",
    "podcast",
    "episode",
    "trailer",
    "series",
    "chapter",
    "playlist",
    "work",
    "office",
    "meeting",
    "project",
    "deadline",
    "boss",
    "class",
    "exam",
    "homework",
    "teacher",
    "school",
    "campus",
    "library",
    "city",
    "train",
    "bus",
    "traffic",
    "rain",
    "snow",
    "sun",
    "weather",
    "beach",
    "park",
    "garden",
    "street",
    "home",
    "kitchen",
    "friend",
    "friends",
    "family",
    "mom",
    "dad",
    "sister",
    "brother",
    "kids",
    "dog",
    "cat",
    "neighbour",
    "baby",
    "grandma",
    "run",
    "walk",
    "gym",
    "yoga",
    "bike",
    "swim",
    "hike",
    "trip",
    "flight",
    "hotel",
    "holiday",
    "vacation",
    "road",
    "phone",
    "laptop",
    "app",
    "update",
    "bug",
    "code",
    "server",
    "screen",
    "battery",
    "wifi",
    "camera",
    "photo",
    "video",
    "is",
    "was",
    "are",
    "were",
    "be",
    "been",
    "have",
    "has",
    "had",
    "do",
    "did",
    "does",
    "can",
    "could",
    "will",
    "would",
    "should",
    "and",
    "but",
    "or",
    "so",
    "because",
    "if",
    "when",
    "while",
    "after",
    "before",
    "about",
    "with",
    "without",
    "for",
    "from",
    "into",
    "not",
    "no",
    "yes",
    "very",
    "too",
    "much",
    "many",
    "more",
    "less",
    "some",
    "any",
    "every",
    "all",
    "nothing",
    "something",
    "everything",
    "here",
    "there",
    "where",
    "why",
    "how",
    "what",
    "who",
    "which",
    "again",
    "already",
    "almost",
    "enough",
    "quite",
]

COMMON_PHRASES = [
    "good morning",
    "good morning everyone",
    "good night",
    "happy friday",
    "happy birthday!",
    "thank you so much",
    "lol",
    "can't wait",
    "so true",
    "congrats!",
]

CITIES = ["Lisbon", "Oslo", "Austin", "Pune", "Lagos", "Leeds", "Quito", "Perth", "Osaka", "Graz"]

FIRST_NAMES = [
    "ana",
    "ben",
    "carla",
    "dan",
    "eva",
    "finn",
    "gina",
    "hugo",
    "ines",
    "jack",
    "kira",
    "leo",
    "maya",
    "nico",
    "olga",
    "paul",
    "rosa",
    "sam",
    "tara",
    "uma",
    "vic",
    "wen",
    "yara",
    "zoe",
    "ali",
    "bea",
    "cole",
    "dina",
    "eli",
    "faye",
    "gus",
    "hana",
    "ivan",
    "jade",
    "kurt",
    "lina",
    "marc",
    "nora",
    "omar",
]

LAST_NAMES = [
    "silva",
    "smith",
    "khan",
    "novak",
    "garcia",
    "muller",
    "rossi",
    "kim",
    "sato",
    "okafor",
    "nguyen",
    "ivanova",
    "lopez",
    "brown",
    "costa",
    "berg",
    "dubois",
    "yilmaz",
    "haddad",
    "moreau",
]

SPAM_WORDS = [
    "free",
    "followers",
    "win",
    "prize",
    "cash",
    "crypto",
    "bonus",
    "click",
    "deal",
    "offer",
    "limited",
    "promo",
    "giveaway",
    "exclusive",
    "winner",
    "claim",
    "reward",
    "money",
    "fast",
    "easy",
    "guaranteed",
    "instant",
]

# One template per botnet; naive templates never vary except for {url} and {num}.
NAIVE_TEMPLATES: list[Template] = [
    [["Get"], ["{num}"], ["free followers now!!!"], ["{url}"]],
    [["WIN a brand new iPhone, just click"], ["{url}"]],
    [["Hot singles in your area"], ["{url}"]],
    [["Make ${num} a day from home, ask me how"], ["{url}"]],
    [["Limited offer: {num}% off designer bags"], ["{url}"]],
    [["Best crypto signals, join {num}k traders"], ["{url}"]],
    [["You have been selected for a gift card! claim"], ["{url}"]],
    [["Cheap pills no prescription"], ["{url}"]],
]

PARAPHRASE_TEMPLATES: list[Template] = [
    [
        ["Earn", "Make", "Get", "Grab", "Collect", "Pull in"],
        ["$500", "big money", "extra cash", "$1000", "real income", "serious profit"],
        ["daily", "today", "this week", "every day", "fast", "in no time"],
        ["from home", "online", "with one app", "on your phone", "in minutes", "part time"],
        ["click", "visit", "check", "see", "tap", "go to"],
        ["{url}"],
        ["!!", "now", "", "asap", "today", "🔥"],
    ],
    [
        ["Want", "Need", "Looking for", "Dreaming of", "Searching for", "Hoping for"],
        ["more followers", "real fans", "likes", "engagement", "a bigger audience", "reach"],
        ["?", "??", "?!", "...", "", "!"],
        ["We deliver", "Get them", "Boost", "Grow", "Buy them", "Order"],
        ["fast", "cheap", "instantly", "safely", "today", "now"],
        ["{url}"],
    ],
    [
        ["This", "One", "A simple", "The", "My", "Our"],
        ["trick", "secret", "method", "hack", "system", "strategy"],
        ["doctors hate", "banks hide", "nobody tells you", "pays my rent", "changed my life"],
        ["read", "see", "learn more", "details", "watch", "info"],
        ["{url}"],
    ],
]

LOW_SLOW_TEMPLATES: list[Template] = [
    [["hey", "hi", "hello", "yo"], ["{tag}"], ["check my profile", "look at my page"], ["{url}"]],
    [["{tag}"], ["you won a prize", "you are a winner", "your reward is waiting"], ["{url}"]],
]

HUMAN_LIKE_SPAM_TEMPLATES: list[Template] = [
    [
        ["honestly", "ok so", "not gonna lie", "wow", "guys"],
        ["I love", "obsessed with", "can't stop using", "so happy with"],
        ["this serum", "my new headphones", "these sneakers", "this app", "this course"],
        ["got mine at", "link here", "found it at", "you can get it at"],
        ["{url}"],
    ],
]

LATE_CAMPAIGN_TEMPLATES: list[Template] = [
    [
        ["Claim", "Grab", "Secure", "Get"],
        ["your"],
        ["$SOLX", "$MOONAI", "$PEPEX"],
        ["airdrop", "tokens", "rewards", "allocation"],
        ["before it ends", "now", "today only", "while it lasts"],
        ["{url}"],
    ],
    [
        ["Wallet", "Account"],
        ["eligible for", "whitelisted for", "selected for"],
        ["{num}", "a bonus of {num}"],
        ["$MOONAI", "$SOLX"],
        ["connect at", "verify at"],
        ["{url}"],
    ],
]

AUTOMATION_TEMPLATES: list[Template] = [
    [
        ["Weather update for"],
        CITIES,
        [":"],
        ["{num}C"],
        ["and sunny", "and cloudy", "with rain", "with light wind", "and clear"],
    ],
    [
        ["Breaking:", "Update:", "Just in:", "Developing:"],
        ["council", "markets", "storm", "election", "transport", "hospital", "festival"],
        ["report", "vote", "warning", "results", "plans", "update"],
        ["published", "announced", "expected", "delayed", "confirmed"],
        ["{url}"],
    ],
    [
        ["Raspberry Pi"],
        ["sensor", "node", "station"],
        ["{num}"],
        ["temperature", "humidity", "pressure", "soil moisture"],
        ["reading:"],
        ["{num}"],
    ],
]

# Evasive bots push a campaign in a minority of their tweets, in wording varied enough
# that no two accounts share a template: ~10 alternatives per slot and an everyday
# lead-in (see `world._tweet_text`) make exact and near duplicates rare.
EVASIVE_TEMPLATES: list[Template] = [
    [
        ["btw", "also", "oh and", "side note:", "random but", "fyi", "ok so", "real talk", ""],
        [
            "been using",
            "finally tried",
            "started using",
            "my sister got me into",
            "someone recommended",
            "can't believe I slept on",
            "switched to",
            "ordered",
            "been testing",
            "treated myself to",
        ],
        [
            "this meal planner",
            "a budgeting app",
            "these running socks",
            "a skincare set",
            "this language app",
            "a standing desk",
            "a coffee grinder",
            "these earbuds",
            "a sleep tracker",
            "this study planner",
            "an air fryer",
            "a new phone case",
        ],
        [
            "and it actually works",
            "honestly love it",
            "pretty happy so far",
            "worth it imo",
            "not bad at all",
            "no regrets",
            "kind of obsessed",
            "surprisingly good",
            "better than expected",
            "",
        ],
        [
            "link:",
            "here:",
            "found it here",
            "if anyone wants it",
            "they have a sale",
            "code still works",
            "got it from",
            "more info",
            "",
        ],
        ["{url}"],
        ["", "", "", "!", "lol", "(not an ad)", "just saying", "🙂"],
    ],
    [
        [
            "anyone else",
            "does anyone",
            "has anyone",
            "who else",
            "ok but does anyone",
            "curious if anyone",
        ],
        ["use", "know about", "tried", "get", "order from", "follow"],
        [
            "this site",
            "this shop",
            "this newsletter",
            "this channel",
            "this discount page",
            "this little store",
            "this app",
            "this account",
        ],
        ["for", "to find", "when looking for", "to save on", "to get"],
        [
            "cheap flights",
            "gym gear",
            "concert tickets",
            "phone deals",
            "recipes",
            "game keys",
            "books",
            "plant stuff",
            "hotel deals",
            "sneakers",
        ],
        ["?", "??", "? asking for a friend", "? seems legit", "? saw it here", "?!"],
        ["{url}"],
    ],
]

# Benign feeds: one template per style (deals, headlines, status), many tweets a day,
# a link in nearly every one; a status heartbeat now and then has none.
FEED_TEMPLATES: list[Template] = [
    [
        ["Deal:", "Price drop:", "Coupon:", "Today only:", "Flash sale:"],
        ["{num}% off"],
        [
            "headphones",
            "running shoes",
            "coffee makers",
            "board games",
            "laptops",
            "garden tools",
            "kids' books",
            "camping gear",
            "smart plugs",
            "vacuum cleaners",
        ],
        ["at"],
        ["Shopmart", "ValueHub", "Cartly", "BuyRight", "DealBarn", "MegaStore"],
        ["{url}"],
    ],
    [
        ["New post:", "Headline:", "From the blog:", "Latest:"],
        ["City", "Region", "Tech", "Science", "Sports", "Business"],
        ["desk:"],
        ["budget", "bridge", "study", "league", "launch", "survey", "merger", "festival"],
        ["plans", "results", "update", "approved", "delayed", "explained"],
        ["{url}"],
    ],
    [
        ["Status:", "Monitor:", "Uptime check:"],
        ["api", "website", "checkout", "login", "search", "mail"],
        ["is up", "is up", "is up", "degraded", "recovered"],
        ["({num} ms)"],
        ["{url}"] * 9 + [""],
    ],
]


MAX_SLOTS = max(
    len(t)
    for group in (
        NAIVE_TEMPLATES,
        PARAPHRASE_TEMPLATES,
        LOW_SLOW_TEMPLATES,
        HUMAN_LIKE_SPAM_TEMPLATES,
        LATE_CAMPAIGN_TEMPLATES,
        AUTOMATION_TEMPLATES,
        EVASIVE_TEMPLATES,
        FEED_TEMPLATES,
    )
    for t in group
)
MAX_WORDS = 14


def _alternative(word: str) -> Column:
    # An empty alternative is a null, which concat_ws skips: no double spaces to clean up.
    return F.lit(word) if word else F.lit(None).cast("string")


def template_array(templates: Sequence[Template]) -> Column:
    """The templates as one `array<array<array<string>>>` literal column."""
    return F.array(
        *[
            F.array(*[F.array(*[_alternative(a) for a in slot]) for slot in tpl])
            for tpl in templates
        ]
    )


def pick_template(templates: Sequence[Template], index: Column) -> Column:
    """templates[index % len(templates)] as an `array<array<string>>` column."""
    array = template_array(templates)
    return F.element_at(array, (index % len(templates) + 1).cast("int"))


def render(template: Column, seed: int, *keys: Column) -> Column:
    """Draw one alternative per slot of `template` and join them with spaces.

    Slots are unrolled to MAX_SLOTS plain expressions (a missing slot is null and
    skipped), and callers pick the template first and render once: one set of draws
    per tweet keeps Spark's generated code small enough to be JIT-compiled.
    """
    words = []
    for j in range(MAX_SLOTS):
        slot = F.try_element_at(template, F.lit(j + 1))
        choice = F.floor(uniform(seed, f"slot{j}", *keys) * F.greatest(F.size(slot), F.lit(1)))
        words.append(F.try_element_at(slot, (choice + 1).cast("int")))
    return F.concat_ws(" ", *words)


def random_words(seed: int, n_words: Column, *keys: Column) -> Column:
    """`n_words` (at most MAX_WORDS) words drawn from the everyday vocabulary."""
    vocab = F.array(*[F.lit(w) for w in HUMAN_WORDS])
    words = [
        F.element_at(vocab, (randint(seed, f"word{i}", len(HUMAN_WORDS), *keys) + 1).cast("int"))
        for i in range(MAX_WORDS)
    ]
    return F.array_join(F.slice(F.array(*words), 1, F.least(n_words, F.lit(MAX_WORDS))), " ")


def fill_placeholders(text: Column, seed: int, *keys: Column) -> Column:
    """Replace {url}, {num} and {tag} with values drawn for this tweet."""
    url = F.concat(
        F.lit("https://t.co/"),
        F.lower(F.hex(F.xxhash64(F.lit(seed), F.lit("url"), *keys))),
    )
    num = (randint(seed, "num", 990, *keys) + 10).cast("string")
    tag = F.concat(F.lit("@"), pick(FIRST_NAMES, randint(seed, "tagname", len(FIRST_NAMES), *keys)))
    tag = F.concat(tag, (randint(seed, "tagnum", 9000, *keys) + 1000).cast("string"))
    filled = F.replace(text, F.lit("{url}"), url)
    filled = F.replace(filled, F.lit("{num}"), num)
    return F.replace(filled, F.lit("{tag}"), tag)


def human_text(seed: int, *keys: Column) -> Column:
    """Everyday tweets: mostly unique word salad, some common phrases, some links."""
    n_words = randint(seed, "nwords", 11, *keys) + 4
    body = random_words(seed, n_words, *keys)
    u = uniform(seed, "human_form", *keys)
    phrase = pick(COMMON_PHRASES, randint(seed, "phrase", len(COMMON_PHRASES), *keys))
    # `body` appears once: repeating a large expression in several branches blows
    # Spark's generated-code size limit and silently falls back to the interpreter.
    suffix = F.when(u < 0.15, F.lit(" {url}")).when(u < 0.20, F.lit(" {num}")).otherwise("")
    return F.when(u < 0.07, phrase).otherwise(F.concat(body, suffix))
