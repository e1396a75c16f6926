"""Time in questions: "yesterday", "last week", "in July", "since Monday", "أمس",
"الأسبوع الماضي", "في يوليو", "منذ الاثنين" become a date range relative to a day (today, or
the day an archive is read as of); "latest", "most recent", "آخر الأخبار", "أحدث" ask for
the newest articles first.

Only expressions that name a time relative to now, or a month, weekday or day after a
word that makes it a time frame ("in", "since", "on", "في", "منذ", «يوم») count: "since the clashes
began" or "منذ بدء المواجهات" name no date, and "the August 2015 explosions" names the time
of an event, which an article may report weeks later, so it is not a filter.

Weeks are rolling ("last week" is the seven days before today): news weeks start on
Sunday in Saudi Arabia and on Monday elsewhere, and a reader asking about "last week" on a
Monday means the past few days either way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from rag.text.arabic import normalize


@dataclass(frozen=True)
class TimeFrame:
    """What a question says about time: an inclusive date range and/or newest first."""

    phrase: str  # the words it was read from
    date_from: str | None = None
    date_to: str | None = None
    newest_first: bool = False


MONTHS_EN = ["january", "february", "march", "april", "may", "june", "july", "august",
             "september", "october", "november", "december"]  # fmt: skip
# Egyptian/Gulf names and the Levantine ones, normalised as rag.text.arabic.normalize spells them
MONTHS_AR = [
    ["يناير", "كانون الثاني"], ["فبراير", "شباط"], ["مارس", "اذار"], ["ابريل", "نيسان"],
    ["مايو", "ايار"], ["يونيو", "حزيران"], ["يوليو", "تموز"], ["اغسطس", "اب"],
    ["سبتمبر", "ايلول"], ["اكتوبر", "تشرين الاول"], ["نوفمبر", "تشرين الثاني"],
    ["ديسمبر", "كانون الاول"],
]  # fmt: skip
WEEKDAYS_EN = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS_AR = ["الاثنين", "الثلاثاء", "الاربعاء", "الخميس", "الجمعه", "السبت", "الاحد"]

_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10,
                 "يومين": 2, "ثلاثه": 3, "اربعه": 4, "خمسه": 5, "سته": 6, "سبعه": 7,
                 "عشره": 10}  # fmt: skip


# the days a question's time can count from: "last year" or "the last 30 days" computed from
# a day near the calendar's ends would leave it (0001-01-01 made "yesterday" overflow)
FIRST_DAY, LAST_DAY = date(1000, 1, 1), date(9998, 12, 31)


def parse_day(value: str | None, name: str = "as_of") -> date | None:
    """A day given by a user (``None`` stays ``None``); ``ValueError`` naming ``name``."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"{name} must be a date like 2015-07-21, got {value[:40]!r}")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{name} must be a day between {FIRST_DAY} and {LAST_DAY}, got {value}")
    return day


def read_time(question: str, today: date) -> TimeFrame | None:
    """The time frame ``question`` asks about, relative to ``today``; ``None`` if none."""
    english = question.lower()
    arabic = normalize(question)
    try:
        frame = _relative_days(english, arabic, today) or _named(english, arabic, today)
    except OverflowError:  # "the last 9999999 days": no day the calendar has
        frame = None
    newest = _NEWEST_EN.search(english) or _NEWEST_AR.search(arabic)
    if newest and frame is None:
        frame = TimeFrame(newest.group(0), newest_first=True)
    elif newest and frame is not None:
        frame = TimeFrame(frame.phrase, frame.date_from, frame.date_to, newest_first=True)
    return frame and replace(frame, phrase=_as_typed(frame.phrase, question))


def _as_typed(phrase: str, question: str) -> str:
    """``phrase`` (read from the question lowered, or normalised) as the question spells it:
    a note quotes «أمس», not «امس»."""
    words, length = question.split(), len(phrase.split())
    for start in range(len(words) - length + 1):
        typed = " ".join(words[start : start + length]).strip(_AROUND_WORDS)
        if typed.lower() == phrase or normalize(typed) == phrase:
            return typed
    return phrase


_AROUND_WORDS = "?؟!.,،؛;:«»\"'()[]"


_NEWEST_EN = re.compile(
    r"\b(latest|most recent|newest|recent news|recently|what(?:'s| is) new|anything new)\b"
)
_NEWEST_AR = re.compile(
    r"(احدث|اخر (?:الاخبار|المستجدات|التطورات|التصريحات|ما)|الاخبار الاخيره|مؤخرا"
    r"|ما (?:المستجدات|الجديد)|هل من جديد)"
)


# "today" as in "what happened today", not "even today" or "as it is today" (nowadays);
# "اليوم" but not "اليوم الوطني" (National Day), "هذا اليوم" (that day), "حتى اليوم"
_TODAY_EN = (r"(?<!even )(?<!still )(?<!until )(?<!till )(?<!to )(?<!is )(?<!are )"
             r"(?<!was )\btoday\b(?!'s world)|\bthis morning\b|\btonight\b")  # fmt: skip
_TODAY_AR = (r"(?<!هذا )(?<!حتى )(?<!الى )(?<!عليه )(?<!عليها )(?<!عليهم )\bاليوم\b(?! ال)"
             r"|\bهذا الصباح\b")  # fmt: skip
# a year after a month names an event's time, not a window relative to today
_YEAR_AFTER_EN = r"(?!,? (?:of )?\d{4})(?!\s*\d{1,2}\b)"
_YEAR_AFTER_AR = r"(?! (?:من )?(?:عام |سنه )?\d{4})"


def _span(phrase: str, first: date, last: date) -> TimeFrame:
    return TimeFrame(phrase, first.isoformat(), last.isoformat())


def _relative_days(english: str, arabic: str, today: date) -> TimeFrame | None:
    """today, yesterday, this/last week/month/year, the last N days, and in Arabic."""
    fixed = [
        (r"\bday before yesterday\b", r"اول (?:امس|البارحه)", 2, 2),
        (r"\byesterday\b", r"(?<!اول )\b(?:امس|البارحه)\b", 1, 1),
        (_TODAY_EN, _TODAY_AR, 0, 0),
        (r"\b(?:last|past|previous) week\b|\bthis week\b",
         r"الاسبوع (?:الماضي|الفائت|المنصرم)|هذا الاسبوع", 7, 0),
        (r"\b(?:last|past) (?:few|couple of) days\b", r"الايام (?:الماضيه|الاخيره)", 3, 0),
    ]  # fmt: skip
    for pattern_en, pattern_ar, back_from, back_to in fixed:
        found = re.search(pattern_en, english) or re.search(pattern_ar, arabic)
        if found:
            return _span(found.group(0), today - timedelta(back_from), today - timedelta(back_to))
    found = re.search(r"\b(?:last|past) (\d+|\w+) days\b", english) or re.search(
        r"(?:اخر|خلال) (\d+|\w+) (?:ايام|يوما)(?: الماضيه)?", arabic
    )
    if found:
        count = _count(found.group(1))
        if count:
            return _span(found.group(0), today - timedelta(count), today)
    return _calendar(english, arabic, today)


def _calendar(english: str, arabic: str, today: date) -> TimeFrame | None:
    month_start = today.replace(day=1)
    previous_month_end = month_start - timedelta(1)
    spans = [
        (r"\bthis month\b", r"هذا الشهر|الشهر الحالي|الشهر الجاري", month_start, today),
        (r"\b(?:last|previous|past) month\b", r"الشهر (?:الماضي|الفائت|المنصرم)",
         previous_month_end.replace(day=1), previous_month_end),
        (r"\bthis year\b", r"هذا العام|هذه السنه|العام الحالي|العام الجاري",
         today.replace(month=1, day=1), today),
        (r"\b(?:last|previous|past) year\b", r"العام (?:الماضي|الفائت|المنصرم)|السنه الماضيه",
         date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    ]  # fmt: skip
    for pattern_en, pattern_ar, first, last in spans:
        found = re.search(pattern_en, english) or re.search(pattern_ar, arabic)
        if found:
            return _span(found.group(0), first, last)
    return None


def _named(english: str, arabic: str, today: date) -> TimeFrame | None:
    """ "in July", "since Monday", "last Sunday", "في يوليو", "منذ الاثنين", "الجمعة الماضية".

    A bare weekday ("on Friday", "يوم الجمعة") is not read: in a question about an article
    it is usually the article's Friday, and "صلاة الجمعة" is a prayer, not a date."""
    month_en = "|".join(MONTHS_EN)
    found = re.search(rf"\b(in|since|during) ({month_en})\b{_YEAR_AFTER_EN}", english)
    if found:
        return _month_frame(found.group(0), MONTHS_EN.index(found.group(2)) + 1,
                            found.group(1) == "since", today)  # fmt: skip
    names_ar = {name: number for number, names in enumerate(MONTHS_AR, start=1) for name in names}
    month_ar = "|".join(sorted(names_ar, key=len, reverse=True))
    found = re.search(rf"(?:\b(في|منذ|خلال) )(?:شهر )?({month_ar})\b{_YEAR_AFTER_AR}", arabic)
    if found:
        return _month_frame(found.group(0), names_ar[found.group(2)], found.group(1) == "منذ",
                            today)  # fmt: skip
    found = re.search(rf"\b(since|last) ({'|'.join(WEEKDAYS_EN)})\b", english)
    if found:
        return _weekday_frame(found.group(0), WEEKDAYS_EN.index(found.group(2)),
                              found.group(1) == "since", today)  # fmt: skip
    weekdays_ar = "|".join(WEEKDAYS_AR)
    found = re.search(rf"\bمنذ (?:يوم )?({weekdays_ar})\b", arabic)
    if found:
        return _weekday_frame(found.group(0), WEEKDAYS_AR.index(found.group(1)), True, today)
    found = re.search(rf"\b(?:يوم )?({weekdays_ar}) (?:الماضي|الماضيه|الفائت|الفائته)\b", arabic)
    if found:
        return _weekday_frame(found.group(0), WEEKDAYS_AR.index(found.group(1)), False, today)
    return None


_ORDINALS_EN = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
                "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}  # fmt: skip
_ORDINALS_AR = {"الاول": 1, "الثاني": 2, "الثالث": 3, "الرابع": 4, "الخامس": 5, "السادس": 6,
                "السابع": 7, "الثامن": 8, "التاسع": 9, "العاشر": 10}  # fmt: skip
_MONTH_AR_NUMBERS = {n: i for i, names in enumerate(MONTHS_AR, start=1) for n in names}


def read_day(question: str, today: date) -> TimeFrame | None:
    """A day of a month: "on July 29", "29 July 2015", "news of the 6th of August",
    «يوم 6 أغسطس», «السادس من أغسطس 2015», «أخبار 23 يوليو», and the Hijri dates Saudi
    newspapers print, «20 شوال 1436».
    Without a year, the latest such day up to ``today``; a day the calendar lacks is none.

    Not part of ``read_time``: in "the earthquake that struck on 26 October 2015" the day
    is the event's, which articles report days later. ``Question.time_frame`` reads it only
    in a question that asks for the news ("What happened on July 29?", «أخبار يوم 28 يوليو»).
    """
    return _on_day(question.lower(), normalize(question), today)


def _on_day(english: str, arabic: str, today: date) -> TimeFrame | None:
    months_en = "|".join(MONTHS_EN)
    day_en = rf"(\d{{1,2}}|{'|'.join(_ORDINALS_EN)})(?:st|nd|rd|th)?"
    year_en = r"(?:,? (\d{4}))?"
    found = re.search(rf"\b(?:(?:on|of|for) )?(?:the )?{day_en} (?:of )?({months_en}){year_en}\b",
                      english)  # fmt: skip
    if found:
        return _day_frame(found.group(0), found.group(1), found.group(2), found.group(3), today)
    found = re.search(rf"\b({months_en}) {day_en}{year_en}\b", english)
    if found:
        return _day_frame(found.group(0), found.group(2), found.group(1), found.group(3), today)
    found = re.search(r"\bon the (\d{1,2})(?:st|nd|rd|th)\b(?! of)", english)
    if found:  # "on the 6th": of this month, or of the last one if it has not come yet
        day = int(found.group(1))
        month = today if day <= today.day else today.replace(day=1) - timedelta(1)
        return _day_frame(found.group(0), str(day), MONTHS_EN[month.month - 1],
                          str(month.year), today)  # fmt: skip
    hijri = _hijri_day(arabic, today)
    if hijri is not None:
        return hijri
    months_ar = "|".join(sorted(_MONTH_AR_NUMBERS, key=len, reverse=True))
    day_ar = rf"(\d{{1,2}}|{'|'.join(_ORDINALS_AR)})"
    found = re.search(rf"(?:\b(?:يوم|في|بتاريخ) )?\b{day_ar} (?:من )?(?:شهر )?"
                      rf"({months_ar})(?: (?:من )?(?:عام |سنه )?(\d{{4}}))?\b", arabic)  # fmt: skip
    if found:
        return _day_frame(found.group(0).strip(), found.group(1), found.group(2),
                          found.group(3), today)  # fmt: skip
    return None


# the Hijri months as Saudi newspapers print them, normalised (and in the genitive: ذي)
_HIJRI_MONTHS = [
    ["محرم"], ["صفر"], ["ربيع الاول"], ["ربيع الاخر", "ربيع الثاني"],
    ["جمادي الاولي", "جمادي الاول"], ["جمادي الاخره", "جمادي الثانيه", "جمادي الاخر"],
    ["رجب"], ["شعبان"], ["رمضان"], ["شوال"], ["ذو القعده", "ذي القعده"],
    ["ذو الحجه", "ذي الحجه"],
]  # fmt: skip
_HIJRI_NUMBERS = {n: i for i, names in enumerate(_HIJRI_MONTHS, start=1) for n in names}


def _hijri_day(arabic: str, today: date) -> TimeFrame | None:
    """«20 شوال 1436» (and «20 شوال» in the latest year up to ``today``), by the tabular
    Islamic calendar: the Umm al-Qura day the newspapers print, or a day next to it."""
    months = "|".join(sorted(_HIJRI_NUMBERS, key=len, reverse=True))
    found = re.search(rf"\b(\d{{1,2}}) (?:من )?({months})(?: (?:عام |سنه )?(\d{{4}}))?", arabic)
    if not found:
        return None
    day, month = int(found.group(1)), _HIJRI_NUMBERS[found.group(2)]
    if not 1 <= day <= 30:
        return None
    if found.group(3):
        named = _from_hijri(int(found.group(3)), month, day)
    else:
        year = (today.toordinal() - 227015) * 30 // 10631 + 2  # past this year's: one back
        named = next(d for y in (year, year - 1, year - 2)
                     if (d := _from_hijri(y, month, day)) <= today)  # fmt: skip
    return _span(found.group(0), named, named)


def _from_hijri(year: int, month: int, day: int) -> date:
    """The tabular (civil) Islamic calendar's day as a Gregorian date."""
    julian = day + math.ceil(29.5 * (month - 1)) + (year - 1) * 354 + (3 + 11 * year) // 30
    return date.fromordinal(julian + 1948439 - 1 - 1721425)


def _day_frame(phrase: str, day: str, month: str, year: str | None, today: date):
    number = int(day) if day.isdigit() else _ORDINALS_EN.get(day) or _ORDINALS_AR.get(day, 0)
    month_number = (MONTHS_EN.index(month) + 1 if month in MONTHS_EN
                    else _MONTH_AR_NUMBERS[month])  # fmt: skip
    try:
        if year:
            named = date(int(year), month_number, number)
        else:
            named = date(today.year, month_number, number)
            if named > today:
                named = date(today.year - 1, month_number, number)
    except ValueError:  # the 31st of a month of 30 days, the year 0
        return None
    return _span(phrase, named, named)


def _month_frame(phrase: str, month: int, since: bool, today: date) -> TimeFrame:
    """The latest such month up to today (this year's if it has begun, else last year's)."""
    year = today.year if month <= today.month else today.year - 1
    first = date(year, month, 1)
    if since:
        return _span(phrase, first, today)
    following = date(year + month // 12, month % 12 + 1, 1)
    return _span(phrase, first, min(following - timedelta(1), today))


def _weekday_frame(phrase: str, weekday: int, since: bool, today: date) -> TimeFrame:
    """The latest such day before today (today itself for "since")."""
    back = (today.weekday() - weekday) % 7
    if back == 0 and not since:
        back = 7
    day = today - timedelta(back)
    return _span(phrase, day, today if since else day)


def _count(word: str) -> int:
    if word.isdigit():
        return int(word)
    return _NUMBER_WORDS.get(word, 0)
