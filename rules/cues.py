"""Complaint cues a sentiment model misses, and whether a concern is asserted or denied.

Four kinds of complaint carry no (or the wrong) emotional words, so a polarity model reads
them as neutral or even positive:

- factual: a delay, a missing refund, a double charge (等了一个小时还没送到);
- boycott / warning: 再也不买, 远离, 避雷, "never again", "do not fly with them";
- crisis news: 被曝, 违规添加, 召回, 罚款, "recalled", "fined", "lawsuit";
- sarcasm: praise words around a complaint ("Great, another 90 minutes", 效率真高啊…还没回).

``cue_features`` reports which kinds occur; the trained complaint models use them as
features (so data decides their weight), not as verdicts.  The patterns are written for the
kind of phrasing, not for particular sentences.

``asserted`` answers the opposite question for a concern word (食物中毒, "food poisoning"):
is it said to have happened, or denied ("never got food poisoning", 从来没有拉肚子)?  A
critical aspect needs the concern asserted.
"""

from __future__ import annotations

import re

__all__ = [
    "CUE_NAMES",
    "asks_the_crowd",
    "asserted",
    "boycotts_brand",
    "cue_features",
    "denied_concern",
    "verdict",
]

_EN = {
    "factual": re.compile(
        r"\b(?:still|been|keep|kept|am|are|i'?m) (?:waiting|waitin|on hold)\b"
        r"|\bwaiting (?:for|on) (?:my|a|the|our|your)\b|\bon hold for\b"
        r"|\b(?:delayed|cancell?ed|overbooked|stranded|stuck|overcharged|double[- ]charged)\b"
        r"|\b(?:charged|billed) (?:me |us )?(?:twice|double|two times|again|for nothing)\b"
        r"|\bno (?:one|body|response|reply|answer|refund|help|update|email|call)\b"
        r"|\bnobody\b|\bnever (?:arrived|came|received|showed up|heard back)\b"
        r"|\b(?:won'?t|wont|refuses? to|refused to|didn'?t|did not|doesn'?t|does not|can'?t|cannot)"
        r" (?:answer|respond|reply|refund|help|fix|work|load|connect|get through|deliver)\b"
        r"|\b(?:has|have|hasn'?t|haven'?t)(?: not)? (?:arrived|been (?:fixed|delivered|refunded|resolved))\b"
        r"|\bwhere(?:'s| is) my\b|\b(?:not|stopped|isn'?t|aren'?t) working\b"
        r"|\b(?:broken|broke|crash(?:es|ed|ing)?|lost (?:my|our)|missing|wrong (?:order|item|size))\b"
        r"|\b(?:\d+|two|three|four|five|six|several) (?:hours?|hrs?|days?|weeks?|months?|mins?|minutes?)"
        r" (?:late|delay|later|and (?:still|no|counting))\b|\bstill (?:no|not|haven'?t|hasn'?t|nothing)\b"
        r"|\brefund\b|\bmoney back\b|\bcustomer (?:service|support|care)\b"
    ),
    "boycott": re.compile(
        r"\bnever (?:again|buying|flying|using|going back|ordering|shopping|coming back)\b"
        r"|\b(?:do not|don'?t|dont|never|won'?t|will not|wont) (?:ever )?"
        r"(?:fly|buy|use|shop|order|go|eat|stay|book|trust|recommend) (?:with|from|at|again|them|this|here|there)\b"
        r"|\bstay away\b|\bavoid\b|\bboycott|\bswitching to\b|\bswitched to\b|\bdone with\b"
        r"|\b(?:cancel(?:l?ed|l?ing)?|closing) my (?:account|subscription|order|membership|contract)\b"
        r"|\blast time i\b|\bwarning\b|\bbuyer beware\b|\bdo yourself a favou?r\b"
    ),
    "crisis": re.compile(
        r"\brecall(?:s|ed|ing)?\b|\bfined\b|\bfines?\b(?= of| for)|\blawsuits?\b|\bsued\b|\bsuing\b"
        r"|\bclass action\b|\binvestigat(?:ion|ed|ing)\b|\bcontaminat\w*|\bdata (?:breach|leak)\b"
        r"|\bbreach\b|\bhacked\b|\bscandal\b|\bbanned\b|\bexposed\b|\bviolat(?:ion|ions|ed|es|ing)\b"
        r"|\boutage\b|\bshut down\b|\bpenalt(?:y|ies)\b|\bfraud\b|\bsettle(?:d|ment)\b"
    ),
    "sarcasm": re.compile(
        r"\blove (?:that|this) for me\b|\bjust what i (?:needed|wanted)\b|\byeah,? right\b"
        r"|\bthanks? (?:you )?for nothing\b|\boh (?:great|good|joy|wonderful|perfect)\b"
        r"|^\W*(?:great|perfect|awesome|fantastic|wonderful|brilliant|lovely|nice|cool|thanks|love it)"
        r"\W+(?:another|more|again|now|still|only|just|no)\b"
        r"|\bso (?:glad|happy) i (?:paid|waited|spent|bought)\b|\bcan'?t wait to (?:wait|spend|pay)\b"
        r"|\bgreat job\b.{0,30}\b(?:not|no|again|never)\b|\bwell done\b.{0,30}\b(?:not|no|again|never)\b"
        r"|\bgotta love\b|\bnothing like\b|\bwhat a (?:joke|surprise)\b|\bas usual\b|\bclassic\b"
    ),
}

_ZH = {
    "factual": re.compile(
        r"等了.{0,10}?(?:还没|还是没|都没|没有|才|也没)|还没(?:到|送|回|发货|退|处理|解决|收到|来|修|给)"
        r"|迟迟|催了|至今(?:没|未)|一直(?:没|不|在等|联系不上)|没人(?:理|管|回|处理|接|解决)"
        r"|不(?:给|予)?(?:退款|退钱|处理|解决|回复|理睬|理人)|(?:重复|乱|多)扣|扣了?(?:两次|双倍|我)"
        r"|退款|延误|晚点|丢件|发错|漏发|少发|坏了|打不开|用不了|闪退|连不上|投诉无门|联系不上"
        r"|客服.{0,8}(?:不|没|推|踢)|已经.{0,6}(?:天|小时|个月|周).{0,6}(?:了|还)"
    ),
    "boycott": re.compile(
        r"再也不|不会再(?:买|来|去|用|点|坐|信)|远离|抵制|拉黑|避雷|踩雷|劝退|取关|卸载|退订|销户"
        r"|(?:劝|告诉).{0,6}(?:别|不要)|(?:大家|姐妹|朋友|你们).{0,3}(?:别|不要|千万别)(?:买|去|点|用|来)"
        r"|千万(?:别|不要)|最后一次(?:买|来|去|用|点)|谁买谁|(?:不|别)(?:要)?再(?:买|去|来|用)了"
    ),
    "crisis": re.compile(
        r"被曝|曝光|违规|违法|召回|罚款|处罚|被罚|立案|调查|约谈|通报|下架|涉嫌|维权|起诉|被告|诉讼"
        r"|食品安全|过期|变质|致癌|超标|泄露|翻车|塌房|爆雷|暴雷|跑路|事故|假货|造假"
    ),
    "sarcasm": re.compile(
        r"(?:效率|速度|服务|态度)(?:真|可真|实在|太)(?:高|快|好|棒)(?:啊|呀|呢)?"
        r"|真(?:是)?(?:棒|行|厉害|优秀|有你的|会玩|牛)(?:啊|呀|呢)?[，,!！。\s]*.{0,20}(?:还没|没人|又|都)"
        r"|呵呵|谢谢你(?:们)?(?:全家|啊)|感谢.{0,6}(?:让我|害我)|好一个|不愧是|〔表:微笑〕|〔表:允悲〕|就这"
    ),
}

CUE_NAMES = ("factual", "boycott", "crisis", "sarcasm")
# Praise words: a praise word next to a factual complaint is how sarcasm usually reads.
_PRAISE = {
    "en": re.compile(r"\b(?:great|love|perfect|awesome|amazing|fantastic|wonderful|thanks|best)\b"),
    "zh": re.compile(r"真好|太好|真棒|厉害|感谢|谢谢|优秀|效率|真快|真高"),
}


def cue_features(lowered: str, lang: str) -> dict[str, int]:
    """Which cue kinds occur in cleaned, lower-cased text (1/0), plus praise-with-fact."""
    table = _ZH if lang == "zh" else _EN
    found = {name: int(table[name].search(lowered) is not None) for name in CUE_NAMES}
    praise = _PRAISE["zh" if lang == "zh" else "en"].search(lowered) is not None
    found["praise_fact"] = int(praise and bool(found["factual"]))
    return found


# Explicit verdicts: phrasings that are a complaint whatever else the post says (a boycott
# or warning, crisis news, a sarcastic thank-you for nothing, a refund or charge left
# unresolved).  Narrow on purpose: the broad cues above are features, these set a floor.
_VERDICT = {
    "en": re.compile(
        r"\bnever (?:again|buying|flying|ordering|shopping|going back|coming back)\b"
        r"|\b(?:do not|don'?t|never) (?:fly|buy|book|order|shop) (?:with|from|at) (?:them|this|these)\b"
        r"|\bstay away from\b|\bboycott(?:ing)?\b|\bbuyer beware\b"
        r"|\b(?:was|were|been|is|are|being) (?:recalled|fined|sued)\b|\b(?:lawsuit|class action)\b"
        r"|\bdata (?:breach|leak)\b|\blove (?:that|this) for me\b|\bthanks? (?:you )?for nothing\b"
        r"|\bstill (?:waiting|no sign) (?:for|on|of) (?:my|our|a|the) (?:\w+ )?(?:refund|order|package"
        r"|parcel|delivery|reply|response|money|callback|bag|luggage|replacement)\b"
        r"|\b(?:charged|billed) (?:me |us )?(?:twice|double|two times)\b|\bdouble[- ]charged\b"
        r"|^\W*(?:great|perfect|awesome|fantastic|wonderful|brilliant|lovely)\W+another\b"
    ),
    "zh": re.compile(
        r"再也不(?:买|来|去|点|喝|吃|坐|信|会买|会来|会去|会用)|不会再(?:买|来|去|用|点)|拉黑|避雷|抵制"
        r"|(?:劝|告诉)(?:身边|大家|朋友|家人).{0,6}(?:别|不要)|大家(?:千万)?(?:别|不要)(?:买|去|点|用)"
        r"|被曝|违规添加|非法添加|召回|被罚|罚款|立案调查|被约谈|被起诉|集体诉讼"
        r"|等了.{0,10}?(?:还没|还是没|都没)|(?:重复|多)扣(?:款|费|钱)|扣了?(?:两次|双倍)"
        r"|(?:效率|速度)(?:真|可真|实在)(?:高|快)(?:啊|呀)?.{0,12}(?:还没|没人|都没)"
    ),
}


# A concern denied as praise: "never had a single problem", "no issues in two years",
# 从来没有拉肚子, 没出过问题.  With no complaint cue beside it, such a post is not a complaint.
_DENIED_CONCERN = {
    "en": re.compile(
        r"\b(?:never|no|not a|not one|zero|without (?:a|any))\b(?:\s+\w+){0,3}?\s+"
        r"(?:problems?|issues?|complaints?|troubles?|hiccups?|food poisoning|sick|ill|bugs?)\b"
    ),
    "zh": re.compile(
        r"(?:从来|从|一直|一次都|一次也)?(?:没|没有|无|未)(?:出过|遇到过|有过|出现过|碰到过|发生过)?"
        r"(?:任何)?(?:问题|故障|毛病|拉肚子|闹肚子|食物中毒|不舒服|投诉|差评)"
    ),
}


# Asking other people for information ("does anyone know if...", 有人知道…吗): on the
# training rows, such questions with no complaint cue and no negative polarity are rarely
# complaints (English 3 of 53, Chinese 3 of 20).
_CROWD_ASK = {
    "en": re.compile(
        r"\b(?:does|do|did|has|have|is|will|would) (?:any ?(?:one|body)|some ?(?:one|body))\b"
        r"(?! else)|\b(?:any ?(?:one|body)|some ?(?:one|body)) knows?\b"
    ),
    "zh": re.compile(
        r"有没有人(?:知道|用过|去过|吃过|买过|试过)|有人知道|有谁知道|谁知道(?!呢)|求问|请问大家"
        r"|大家知道|求推荐|有人(?:用|试|去|吃|买)过"
    ),
}


def asks_the_crowd(lowered: str, lang: str) -> bool:
    """Whether the post asks other people for information ("anyone know if...", 有人知道)."""
    return bool(_CROWD_ASK["zh" if lang == "zh" else "en"].search(lowered))


def denied_concern(lowered: str, lang: str) -> bool:
    """A concern said not to have happened, and no complaint cue anywhere in the post."""
    code = "zh" if lang == "zh" else "en"
    if _DENIED_CONCERN[code].search(lowered) is None:
        return False
    table = _ZH if code == "zh" else _EN
    return not any(table[k].search(lowered) for k in CUE_NAMES) and verdict(lowered, code) is None


def verdict(lowered: str, lang: str) -> str | None:
    """The explicit complaint phrase in cleaned lower-cased text, or None."""
    m = _VERDICT["zh" if lang == "zh" else "en"].search(lowered)
    return m.group(0) if m else None


# A boycott aimed at the brand itself: 远离瑞幸, 抵制X, "stay away from X".  远离 alone is
# mostly 远离毒品 / 远离手机 on Weibo, so it is a verdict only right before the brand's name.
_BOYCOTT_BEFORE = re.compile(
    r"(?:远离|抵制|拉黑|避雷|别买|不要买|别去|不要去|别点|不要点)\s*$"
    r"|\b(?:stay away from|avoid|boycott(?:ing)?|never again with|do not (?:buy|fly|order) (?:from|with))\s*$"
)


def boycotts_brand(normalized: str, start: int) -> bool:
    """Whether the brand name found at ``normalized[start:]`` is the object of a boycott."""
    return _BOYCOTT_BEFORE.search(normalized[max(0, start - 24) : start]) is not None


# ---------------------------------------------------------------- assertion ----------
# Denial cues in the same clause just before the concern word.
_EN_DENY = re.compile(
    r"\b(?:never|no|not|without|zero|nor|none|free of|free from|nothing like)\b|n't\b"
    r"|\b(?:dont|didnt|doesnt|cant|wont|isnt|wasnt|havent|hasnt|aint)\b"
)
# Uncertainty and surprise are not denial: "not sure if it was food poisoning",
# "can't believe I got sick", 不知道是不是食物中毒, 没想到…拉肚子, 有没有人…
_EN_NOT_DENY = re.compile(
    r"\b(?:not sure|no idea|don'?t know|do not know|can'?t believe|cannot believe|no wonder"
    r"|not the first|no doubt|not only|can'?t tell)\b"
)
_ZH_DENY = re.compile(r"从来没有?|从没|没有|没|未|不|无|别|零")
_ZH_NOT_DENY = re.compile(
    r"不知道|不确定|不排除|是不是|会不会|有没有|没想到|不会吧|怀疑|不到|不久|不少|不止|不仅|不光"
)
_CLAUSE = re.compile(r"[.!?;,，。！？；:：\n]|\bbut\b|但是|但|可是|不过|结果")
_EN_WINDOW_WORDS = 4
_ZH_WINDOW_CHARS = 6


def _denied_before(prefix: str, zh: bool) -> bool:
    clause = _CLAUSE.split(prefix)[-1]
    if zh:
        window = _ZH_NOT_DENY.sub(" ", clause[-(_ZH_WINDOW_CHARS + 3) :])[-_ZH_WINDOW_CHARS:]
        return _ZH_DENY.search(window) is not None
    words = _EN_NOT_DENY.sub(" ", clause).split()[-_EN_WINDOW_WORDS:]
    return _EN_DENY.search(" ".join(words)) is not None


def asserted(normalized: str, start: int, keyword: str) -> bool:
    """Whether the concern found at ``normalized[start:]`` is said, not denied.

    Denied: a negation in the same clause just before it ("never got food poisoning",
    "no hair in it", 从来没有拉肚子, 没有食物中毒).  Uncertainty and surprise are not denial.
    """
    zh = any("\u4e00" <= ch <= "\u9fff" for ch in keyword)
    return not _denied_before(normalized[:start], zh)
