"""The reply parser, one named case at a time: new text, ratings, answers, coach notes, topics, responses."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest

from coachd.replies import reading as reply_text
from coachd.replies.html import html_to_text

# -- new text: quotes and signatures ----------------------------------------------------------------

QUOTE = "> Hello Ana,\n> How was the session?\n>     Rating: 4\n"


@pytest.mark.parametrize("header", [
    "On Mon, Jan 11, 2027 at 5:00 PM Northwind Coaching Office <coaching@northwind.example> wrote:",
    "On Mon, Jan 11, 2027 at 5:00 PM Northwind Coaching Office <\ncoaching@northwind.example> wrote:",
    "On 1/11/27 5:00 PM, Northwind Coaching Office wrote:",
    "Am Mo., 11. Jan. 2027 um 17:00 Uhr schrieb Northwind Coaching Office <coaching@northwind.example>:",
    "Am 11.01.27 um 17:00 schrieb Northwind Coaching Office:",
    "Le lun. 11 janv. 2027 à 17:00, Northwind Coaching Office <coaching@northwind.example> a écrit :",
    "El lun, 11 ene 2027 a las 17:00, Northwind Coaching Office (<coaching@northwind.example>) escribió:",
    "El 11/1/27 a las 17:00, Northwind Coaching Office escribió:",
    "Em seg., 11 de jan. de 2027 às 17:00, Northwind Coaching Office <coaching@northwind.example> escreveu:",
    "Op ma 11 jan. 2027 om 17:00 schreef Northwind Coaching Office <coaching@northwind.example>:",
])
def test_an_attribution_line_in_any_language_starts_the_quote(header: str) -> None:
    assert reply_text.new_text(f"Rating: 5\n\n{header}\n{QUOTE}") == "Rating: 5"


@pytest.mark.parametrize("block", [
    "From: Northwind Coaching Office <coaching@northwind.example>\nSent: Monday, January 11, 2027 5:00 PM\n"
    "To: Ana Souza <ana@northwind.example>\nSubject: How was it?",
    "________________________________\nFrom: Northwind Coaching Office <coaching@northwind.example>\n"
    "Sent: Monday, January 11, 2027 17:00\nTo: Ana Souza\nSubject: How was it?",
    "Von: Northwind Coaching Office\nGesendet: Montag, 11. Januar 2027 17:00\nAn: Lena\nBetreff: Wie war es?",
    "De : Northwind Coaching Office\nEnvoyé : lundi 11 janvier 2027 17:00\nÀ : Claire\nObjet : Retour",
    "De: Northwind Coaching Office\nEnviado el: lunes, 11 de enero de 2027 17:00\nPara: Javier\nAsunto: Hola",
    "De: Northwind Coaching Office\nEnviado: segunda-feira, 11 de janeiro de 2027 17:00\nPara: Ana\nAssunto: Oi",
    "-----Original Message-----\nFrom: Northwind Coaching Office",
    "-----Ursprüngliche Nachricht-----\nVon: Northwind Coaching Office",
])
def test_outlook_history_runs_to_the_end(block: str) -> None:
    text = f"Rating: 5\n\n{block}\n\nHello Ana,\n    Rating: 4\n1. What worked well?\nNothing quoted here is new."
    assert reply_text.new_text(text) == "Rating: 5"


def test_bottom_posted_text_below_the_quote_is_kept() -> None:
    text = f"On 1/11/27 5:00 PM, Northwind Coaching Office wrote:\n{QUOTE}\nRating: 3\nGood session.\n"
    assert reply_text.new_text(text) == "Rating: 3\nGood session."


def test_inline_answers_between_quoted_lines_are_kept_in_order() -> None:
    text = "> 1. What worked well?\nThe role play.\n> 2. What should we do more of, or less of?\nMore of it.\n"
    assert reply_text.new_text(text) == "The role play.\n\nMore of it."


@pytest.mark.parametrize("signature", [
    "-- \nAna Souza\nNorthwind", "--\nAna", "Sent from my iPhone", "Envoyé de mon iPhone", "Von meinem iPhone gesendet",
    "Enviado desde mi iPhone", "Enviado do meu iPhone", "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "Best regards,\nAna Souza\nSenior Account Executive | Northwind Brasil\n+55 11 91234-5678",
    "Mit freundlichen Grüßen\nLena Hoffmann", "Cordialement,\nClaire", "Un saludo,\nJavier", "Abraços,\nAna",
    "Thanks,\nBen\n\nCONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and intended solely "
    "for the addressee. If you are not the addressee, delete it.",
])
def test_signatures_are_dropped(signature: str) -> None:
    assert reply_text.new_text(f"Rating: 4\nGreat session.\n\n{signature}") == "Rating: 4\nGreat session."


@pytest.mark.parametrize("text", [
    "Hi Maria,\nThanks, the session was great.\nRating: 5",
    "Actions:\n- Ana: send the proposal\n- Ben: call the CFO",  # the library would cut at "- Ben" (a signature to it)
    "Topics:\nPricing\nBest practice sharing\nCFO access",
    "In my notes I wrote:\n- the role play",
    "On reflection, here is what I wrote:\nthe role play worked",
    "Q: What worked?\nA: The role play\nA: The pricing drill",
])
def test_ordinary_lines_are_not_mistaken_for_headers_or_signatures(text: str) -> None:
    assert reply_text.new_text(text) == text


@pytest.mark.parametrize("header", [
    "pon., 11 sty 2027 o 17:00 Northwind Coaching Office <coaching@northwind.example> napisał(a):",
    "W dniu 11.01.2027 o 17:00, Northwind Coaching Office pisze:",
    "Il giorno lun 11 gen 2027 alle ore 17:00 Northwind Coaching Office <coaching@northwind.example> ha scritto:",
    "Den 11. jan. 2027 kl. 17.00 skrev Northwind Coaching Office <coaching@northwind.example>:",
    "пн, 11 янв. 2027 г. в 17:00, Northwind Coaching Office <coaching@northwind.example>:",  # no verb
    "пн, 11 янв. 2027 г. в 17:00, Northwind Coaching Office <\ncoaching@northwind.example>:",  # wrapped
    "2027年1月12日(火) 2:00 Northwind Coaching Office <coaching@northwind.example>:",
    "在 2027年1月11日，17:00，Northwind Coaching Office <coaching@northwind.example> 写道：",
    "11/01/2027 17:00, Northwind Coaching Office <coaching@northwind.example>:",
    "On Mon, Jan 11, 2027 at 5:00 PM Northwind Coaching Office <coaching@northwind.example> wrote",  # no colon
])
def test_attributions_in_more_languages_and_without_verb_or_colon_start_the_quote(header: str) -> None:
    assert reply_text.new_text(f"Rating: 5\n\n{header}\n{QUOTE}") == "Rating: 5"


@pytest.mark.parametrize("text", [
    "Deadline: 11/01/2027, ask ana@northwind.example:\nthe pricing sheet",  # an address and a colon, no quote below
    "On Monday 4 people wrote\nto say they liked it",  # "On ... wrote" without a colon and no quote below
])
def test_headers_without_verb_or_colon_need_a_quote_below(text: str) -> None:
    assert reply_text.new_text(text) == text


@pytest.mark.parametrize("block", [
    "Fra: Northwind Coaching Office\nSendt: 11. januar 2027 17:00\nTil: Claire Dubois\nEmne: Hvordan gik det?",
    "Från: Northwind Coaching Office\nSkickat: den 11 januari 2027 17:00\nTill: Javier\nÄmne: Hur gick det?",
    "Van: Northwind Coaching Office\nVerzonden: maandag 11 januari 2027 17:00\nAan: Claire\nOnderwerp: Hoe was het?",
    "Da: Northwind Coaching Office\nInviato: lunedì 11 gennaio 2027 17:00\nA: Javier\nOggetto: Com'è andata?",
    "Od: Northwind Coaching Office\nWysłano: poniedziałek, 11 stycznia 2027 17:00\nDo: Thandi\nTemat: Jak było?",
    "От: Northwind Coaching Office\nОтправлено: 11 января 2027 г. 17:00\nКому: Thandi\nТема: Как прошло?",
    "差出人: Northwind Coaching Office\n送信日時: 2027年1月12日 2:00\n宛先: Kenji Sato\n件名: いかがでしたか",
    "发件人: Northwind Coaching Office\n发送时间: 2027年1月12日 1:00\n收件人: Mei Lin Tan\n主题: 反馈",
    "-----Oprindelig meddelelse-----\nFra: Northwind Coaching Office",
    "------------------ 原始邮件 ------------------\n发件人: Northwind Coaching Office",
    "--------------Reply message--------------\nFrom: Northwind Coaching Office",
    "---- On Mon, 11 Jan 2027 17:00:00 +0000 Northwind Coaching Office <coaching@northwind.example> wrote ----",
    "---- Northwind Coaching Office wrote ----",
    # converted from HTML, each label in its own paragraph: the block does not stop half way
    "From: Northwind Coaching Office\n\nSent: Monday, January 11, 2027 5:00 PM\n\nTo: Ana Souza\n\nSubject: How?",
])
def test_history_blocks_of_more_languages_and_clients_run_to_the_end(block: str) -> None:
    text = f"Rating: 5\n\n{block}\n\nHello Ana,\n    Rating: 4\n1. What worked well?\nNothing quoted here is new."
    assert reply_text.new_text(text) == "Rating: 5"


@pytest.mark.parametrize("signature", [
    "Med venlig hilsen\nClaire Dubois", "Kh\nClaire", "Med vennlig hilsen\nThandi", "Med vänliga hälsningar\nJavier",
    "Met vriendelijke groet,\n\nClaire Dubois", "Pozdrawiam\nThandi", "Cordiali saluti,\nJavier",
    "С уважением,\nТанди", "发自我的iPhone", "Sendt fra min iPhone", "- Ben", "— Ana Souza",
    ("_______________________________________________\nsales-coaches mailing list\nsales-coaches@lists.northwind.example"
     "\nhttps://lists.northwind.example/mailman/listinfo/sales-coaches"),
    "--\nYou received this message because you are subscribed to the Google Groups \"Sales coaches\" group.",
])
def test_sign_offs_in_more_languages_dash_names_and_list_footers_are_dropped(signature: str) -> None:
    assert reply_text.new_text(f"Rating: 4\nGreat session.\n\n{signature}") == "Rating: 4\nGreat session."


@pytest.mark.parametrize("text", [
    "Sent from my hotel in Lisbon, so only two:\n- Pricing\n- Procurement",
    "Topics:\n- Pricing\n- Ben",  # the last item of a list, not a sign-off
    "Topics:\n- Procurement",
])
def test_sentences_and_lists_that_look_like_signatures_are_kept(text: str) -> None:
    assert reply_text.new_text(text) == text


def test_a_reply_on_the_same_line_as_the_quote_header_is_kept() -> None:
    text = f"Rating: 4. Great session! On Mon, Jan 11, 2027 at 5:00 PM Ana <ana@northwind.example> wrote:\n{QUOTE}"
    assert reply_text.new_text(text) == "Rating: 4. Great session!"


def test_rewrapped_quoted_lines_are_not_inline_answers() -> None:
    text = ("> How was EMEA Strategic: group session on Mon 11 Jan 2027? Your answers help make\n"
            "the next session more useful.\n>\n>     1. What worked well?\nThe role play.\n"
            ">     2. What should we do more of, or less of?\nMore of it.\n")
    assert reply_text.new_text(text) == "The role play.\n\nMore of it."


def test_answers_right_under_long_quoted_questions_are_kept() -> None:
    text = ("> Which opportunity would most change your quarter if it moved this week, and why?\nInitech\n"
            "> What did you commit to last time, and did you do it? What got in the way then?\nSent the proposal\n"
            "> The rating runs from 1 (not useful) to 5 (very useful), where 3 means it was fine\n4\n")
    assert reply_text.new_text(text) == "Initech\n\nSent the proposal\n\n4"


def test_new_text_is_idempotent_on_a_corpus_reply() -> None:
    text = reply_text.body_text(_corpus("gmail_en_feedback_top"))
    once = reply_text.new_text(text)
    assert reply_text.new_text(once) == once


# -- body text ------------------------------------------------------------------------------------------

def _mime(*parts: str) -> EmailMessage:
    body = "".join(f"--b\r\n{part}\r\n" for part in parts)
    return reply_text.parse_message(f'Content-Type: multipart/mixed; boundary="b"\r\n\r\n{body}--b--\r\n'.encode())


def test_body_text_prefers_the_inline_text_part_and_skips_attachments_and_forwards() -> None:
    message = _mime("Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnotes.txt",
                    "Content-Type: message/rfc822\r\n\r\nContent-Type: text/plain\r\n\r\nforwarded",
                    "Content-Type: text/html\r\n\r\n<p>the html</p>",
                    "Content-Type: text/plain\r\n\r\nthe text")
    assert reply_text.body_text(message) == "the text"


def test_body_text_falls_back_to_html_when_the_text_part_is_empty() -> None:
    message = _mime("Content-Type: text/plain\r\n\r\n \r\n", "Content-Type: text/html\r\n\r\n<p>Rating: 5</p>")
    assert reply_text.new_text(reply_text.body_text(message)) == "Rating: 5"


def test_format_flowed_lines_are_joined_back() -> None:
    message = reply_text.parse_message(b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
                                       b"1. The role play was the best part of \r\nthe session.\r\n"
                                       b"> quoted and \r\n> wrapped\r\n-- \r\nBen\r\n")
    assert reply_text.body_text(message).split("\n")[:3] == [
        "1. The role play was the best part of the session.", "> quoted and wrapped", "-- "]


def test_parse_message_reads_ordinary_mail_like_the_stdlib() -> None:
    raw = (Path(__file__).parents[1] / "replies" / "gmail_en_feedback_top.eml").read_bytes()
    message = reply_text.parse_message(raw)
    assert message["Subject"].startswith("Re: How was") and message.is_multipart()


# -- HTML ---------------------------------------------------------------------------------------------

def test_html_quote_containers_become_quoted_lines() -> None:
    text = html_to_text('<div>Rating: 5</div><blockquote type="cite"><div>Rating: 4</div></blockquote>'
                        '<div>Below</div>')
    assert text.split("\n") == ["Rating: 5", "> Rating: 4", "Below"]


def test_gmail_indent_is_not_a_quote() -> None:
    text = html_to_text('<div>Topics:</div><blockquote style="margin:0 0 0 40px;border:none;padding:0px">'
                        '<div>Pricing</div></blockquote>')
    assert reply_text.topics(reply_text.new_text(text)) == ["Pricing"]


@pytest.mark.parametrize("marker", ['<div id="appendonsend"></div>', '<div id="divRplyFwdMsg">',
                                    '<div id="x_divRplyFwdMsg">', '<div id="mail-editor-reference-message-container">'])
def test_outlook_web_markers_quote_the_rest(marker: str) -> None:
    html = f"<div>Rating: 5</div>{marker}<div>Rating: 4</div><div>1. What worked well?</div></div>"
    assert reply_text.new_text(html_to_text(html)) == "Rating: 5"


def test_html_lists_script_style_and_entities() -> None:
    html = ("<style>p{color:red}</style><script>alert(1)</script><p>Caf&eacute; &amp; pricing</p>"
            "<ol><li>First</li><li><div>Second</div></li></ol><ul><li>Bullet</li></ul>")
    assert html_to_text(html).split("\n") == ["Café & pricing", "", "1. First", "2. Second", "- Bullet"]


# -- ratings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Rating: 4", 4), ("4", 4), ("4/5", 4), ("4 / 5", 4), ("4 out of 5", 4), ("Rating: four", 4), ("Four.", 4),
    ("****", 4), ("★★★★☆", 4), ("4 stars", 4), ("4-star session, thanks", 4), ("Bewertung: vier", 4),
    ("Bewertung: 4 von 5", 4), ("Note : quatre", 4), ("Note : 4 sur 5", 4), ("Calificación: cuatro", 4),
    ("Calificación: 4 de 5", 4), ("Nota: quatro", 4), ("Nota: 5", 5), ("Rating 3", 3), ("Rating:\n2", 2),
    ("I'd give it 4 out of 5 overall.", 4), ("Rating: 5 - loved it", 5),
    # never a rating
    ("Rating: 7", None), ("Rating: 10/10", None), ("Rating: 8/10", None), ("Rating: 4.5", None), ("6", None),
    ("we closed 3 deals", None), ("See you at 10:30", None), ("Next session on 2027-02-03?", None),
    ("On 4/5/2027 we met", None), ("******", None), ("", None),
    # a Rating line wins over numbers in prose
    ("We closed 3 deals this week.\nRating: 5", 5), ("Rating: 2\n4 stars for the venue though", 2),
    ("Note: I am away next week\n4", 4), ("Note:\nI am away next week", None),
    ("Note: two of us were late", None), ("Note that two of us were late", None), ("Rating: I'd say 4", 4),
])
def test_rating_forms(text: str, expected: int | None) -> None:
    assert reply_text.rating(text) == expected


def test_the_quoted_example_rating_is_never_taken() -> None:
    text = ("Thanks for the session!\n\n"
            "On Mon, Jan 11, 2027 at 5:00 PM Coaching <c@northwind.example> wrote:\n> Rating: 4\n")
    assert reply_text.rating(text) is None


# -- feedback answers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "1. Role play\n2. More pricing\n3. Yes",
    "1) Role play\n2) More pricing\n3) Yes",
    "Q1: Role play\nQ2: More pricing\nQ3: Yes",
    "What worked well? Role play\nWhat should we do more of, or less of? More pricing\nWere your expectations met? Yes",
    "What worked well?\nRole play\n\nWhat should we do more of, or less of?\nMore pricing\n\n"
    "Were your expectations met?\nYes",
    "Hi Maria,\n\nRole play\n\nMore pricing\n\nYes\n\nThanks!",
    "> 1. What worked well?\nRole play\n> 2. What should we do more of, or less of?\nMore pricing\n"
    "> 3. Were your expectations met?\nYes",
])
def test_answers_numbered_repeated_unnumbered_or_inline(text: str) -> None:
    assert reply_text.feedback(text)["answers"] == {"1": "Role play", "2": "More pricing", "3": "Yes"}


def test_repeat_and_avoid_in_several_languages() -> None:
    for text in ("Repeat: drills\nAvoid: overrun", "Wiederholen: drills\nVermeiden: overrun",
                 "À répéter : drills\nÀ éviter : overrun", "Repetir: drills\nEvitar: overrun",
                 "Manter: drills\nEvitar: overrun"):
        got = reply_text.feedback(text)
        assert (got["repeat"], got["avoid"]) == ("drills", "overrun"), text


def test_a_multiline_answer_stays_together_and_1_to_2_deals_is_no_number() -> None:
    got = reply_text.feedback("1. The role play.\nAlso the CFO part.\n2. 1-2 more deals a week\n3. Yes")
    assert got["answers"] == {"1": "The role play.\nAlso the CFO part.", "2": "1-2 more deals a week", "3": "Yes"}


# -- coach notes --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("conclusions", "actions"), [
    ("Conclusions:", "Actions:"), ("conclusions", "action items"), ("CONCLUSIONS", "NEXT STEPS"),
    ("## Conclusions", "**To do**"), ("Key takeaways:", "Next steps -"), ("Fazit:", "Nächste Schritte:"),
    ("Conclusiones:", "Acciones:"), ("Conclusões:", "Próximos passos:"), ("Conclusions :", "Actions à mener :"),
])
def test_notes_headings_in_any_case_and_language(conclusions: str, actions: str) -> None:
    notes = reply_text.coach_notes(f"{conclusions}\n- Pricing is the blocker\n{actions}\n- Ana: call the CFO\n")
    assert notes["conclusions"] == ["Pricing is the blocker"]
    assert notes["actions"] == [{"owner": "Ana", "text": "call the CFO", "due": ""}]


@pytest.mark.parametrize(("line", "owner", "text", "due"), [
    ("- Ana: send the proposal by 2027-02-01", "Ana", "send the proposal", "2027-02-01"),
    ("* Ana - send the proposal due 2027-02-01", "Ana", "send the proposal", "2027-02-01"),
    ("• Ana to send the proposal (2027-02-01)", "Ana", "send the proposal", "2027-02-01"),
    ("1. Ana Souza: send the proposal by 1 Feb 2027", "Ana Souza", "send the proposal", "2027-02-01"),
    ("- Ana and Ben to prepare the demo by February 1st, 2027", "Ana and Ben", "prepare the demo", "2027-02-01"),
    ("- Ana: send the proposal by Feb 1", "Ana", "send the proposal", "2027-02-01"),
    ("- Ana: send the proposal (due Feb 1)", "Ana", "send the proposal", "2027-02-01"),
    ("- Lena: Angebot schicken bis 01.02.2027", "Lena", "Angebot schicken", "2027-02-01"),
    ("- Send the proposal by 2027-02-30", "", "Send the proposal by 2027-02-30", ""),
    ("- Pricing to be reviewed", "", "Pricing to be reviewed", ""),
    ("- Follow up on pricing and procurement: next week", "", "Follow up on pricing and procurement: next week", ""),
])
def test_action_owner_and_due_forms(line: str, owner: str, text: str, due: str) -> None:
    notes = reply_text.coach_notes(f"Actions:\n{line}", today=date(2027, 1, 20))
    assert notes["actions"] == [{"owner": owner, "text": text, "due": due}]


def test_a_yearless_date_stays_in_the_text_without_today() -> None:
    notes = reply_text.coach_notes("Actions:\n- Ana: send it by Feb 1")
    assert notes["actions"] == [{"owner": "Ana", "text": "send it by Feb 1", "due": ""}]
    late = reply_text.coach_notes("Actions:\n- Ana: send it by Jan 10", today=date(2027, 12, 20))
    assert late["actions"][0]["due"] == "2028-01-10"


def test_free_text_after_the_sections_is_kept_as_notes() -> None:
    notes = reply_text.coach_notes("Conclusions:\n- A\nActions:\n- Ana: B\n\nGood energy today.\nBen was quiet.")
    assert notes == {"conclusions": ["A"], "actions": [{"owner": "Ana", "text": "B", "due": ""}],
                     "notes": "Good energy today.\nBen was quiet."}


def test_notes_without_any_heading_are_all_free_notes() -> None:
    notes = reply_text.coach_notes("Good session; Ben was quiet.\n\nFollow up with him next week.")
    assert notes == {"conclusions": [], "actions": [],
                     "notes": "Good session; Ben was quiet.\n\nFollow up with him next week."}


def test_the_notes_command_format_still_reads_as_before() -> None:
    text = ("Conclusions:\n- Discovery calls are where deals stall\n"
            "Actions:\n- Ben: book two discovery calls by 2027-01-22\n")
    assert reply_text.coach_notes(text) == {
        "conclusions": ["Discovery calls are where deals stall"],
        "actions": [{"owner": "Ben", "text": "book two discovery calls", "due": "2027-01-22"}], "notes": ""}


@pytest.mark.parametrize(("text", "done", "absent"), [
    ("Actions:\n- Ana: call the CFO\nDone:\n- Ben: pricing playbook shared\nAbsent: Carlos (travelling), Ben\n",
     ["Ben: pricing playbook shared"], ["Carlos", "Ben"]),
    ("Erledigt:\n- Angebot geschickt\n\nAbwesend:\n- Claire\n\nGute Stimmung.", ["Angebot geschickt"], ["Claire"]),
    ("Absent: Thandi\nShe was ill, we caught up after.", [], ["Thandi"]),
    ("Absent: (names of anyone who missed the session)\n", [], []),
])
def test_notes_say_what_got_done_and_who_was_absent(text: str, done: list[str], absent: list[str]) -> None:
    notes = reply_text.coach_notes(text)
    assert notes.get("done", []) == done and notes.get("absent", []) == absent
    assert "caught up" not in " ".join(notes.get("absent", [])), "a sentence after the names is free notes"


# -- topics -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("- Pricing\n- CFO access", ["Pricing", "CFO access"]),
    ("1. Pricing\n2) CFO access", ["Pricing", "CFO access"]),
    ("Hi Maria,\n\nTopics:\nPricing\nCFO access\n\nThanks!", ["Pricing", "CFO access"]),
    ("Topics: pricing; CFO access", ["pricing", "CFO access"]),
    ("Hi Maria,\n\nPricing\nCFO access\n\nSee you Monday!", ["Pricing", "CFO access"]),
    ("I would like to talk about renewals when the budget was cut in the middle of the\nquarter.\n\nAnd CFO access.",
     ["I would like to talk about renewals when the budget was cut in the middle of the quarter.",
      "And CFO access."]),
    ("- A\n- B\n- a\n- C\n- D\n- E\n- F", ["A", "B", "C", "D", "E"]),
    ("", []),
])
def test_topics(text: str, expected: list[str]) -> None:
    assert reply_text.topics(text) == expected


def test_a_topic_is_one_line_of_at_most_200_characters() -> None:
    [topic] = reply_text.topics("- " + "word " * 100)
    assert len(topic) <= 200 and "\n" not in topic


# -- meeting responses --------------------------------------------------------------------------------

def _calendar(body: str, method: str = "REPLY") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "ana@northwind.example"
    message.set_content("Accepted")
    ics = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    message.add_attachment(ics.encode(), maintype="text", subtype="calendar", filename="reply.ics")
    return message


def test_itip_reply_reads_each_attendee() -> None:
    message = _calendar("UID:u1@x\r\nDTSTART:20270111T150000Z\r\nRECURRENCE-ID:20270111T150000Z\r\n"
                        "ATTENDEE;PARTSTAT=accepted:MAILTO:Ana@Northwind.Example\r\n"
                        "ATTENDEE;PARTSTAT=DECLINED:mailto:ben@northwind.example\r\n")
    assert reply_text.itip_reply(message) == [
        {"uid": "u1@x", "recurrence_id": "2027-01-11T15:00:00+00:00", "attendee": "ana@northwind.example",
         "partstat": "ACCEPTED"},
        {"uid": "u1@x", "recurrence_id": "2027-01-11T15:00:00+00:00", "attendee": "ben@northwind.example",
         "partstat": "DECLINED"}]


@pytest.mark.parametrize("body", [
    # An occurrence it cannot read is no answer about the whole series (a decline would drop them from all).
    "UID:u1@x\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@northwind.example\r\nRECURRENCE-ID:not-a-date\r\n",
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@northwind.example\r\n",  # no UID
    "UID:u1@x\r\n",  # no attendee
    "UID:u1@x\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:not an address\r\n",
])
def test_itip_reply_skips_what_it_cannot_read(body: str) -> None:
    assert reply_text.itip_reply(_calendar(body)) == []


def test_itip_reply_without_a_recurrence_id_answers_for_the_series() -> None:
    series = _calendar("UID:u1@x\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@northwind.example\r\n")
    assert reply_text.itip_reply(series) == [
        {"uid": "u1@x", "recurrence_id": None, "attendee": "ana@northwind.example", "partstat": "ACCEPTED"}]


def test_itip_requests_and_plain_mail_are_no_replies() -> None:
    assert reply_text.itip_reply(_calendar("UID:u@x\r\nATTENDEE:mailto:a@b.example\r\n", "REQUEST")) == []
    plain = EmailMessage()
    plain.set_content("Rating: 4")
    assert reply_text.itip_reply(plain) == []


# -- speed ----------------------------------------------------------------------------------------------
# Timed in benchmarks/bench_reply_parser.py ("typical": under 2 ms a reply), not here: a test must not
# depend on the machine's speed.


def _corpus(name: str) -> EmailMessage:
    raw = (Path(__file__).parents[1] / "replies" / f"{name}.eml").read_bytes()
    return reply_text.parse_message(raw)
