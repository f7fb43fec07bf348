//! The public functions over the kinds of text real feeds carry, compared with what html2text
//! (the renderer used so far) shows where that is the reference for readability.

use super::*;

/// What `parse::to_text` produced with html2text before this module.
fn today(s: &str) -> String {
    let rendered = if s.contains(['<', '&']) {
        html2text::config::plain_no_decorate()
            .no_link_wrapping()
            .string_from_read(s.as_bytes(), 10_000)
            .unwrap_or_else(|_| s.to_string())
    } else {
        s.to_string()
    };
    rendered
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// html2text's output without its decorations (`[link]`, list bullets and numbers, `#`
/// headings, `>` quotes), which we do not draw. Only for inputs without literal brackets.
fn undecorated(s: &str) -> String {
    s.lines()
        .map(|l| {
            let mut l = l;
            loop {
                let before = l;
                l = l.trim_start_matches('>').trim_start();
                l = l.strip_prefix("* ").unwrap_or(l);
                l = l.trim_start_matches('#').trim_start();
                if let Some((n, rest)) = l.split_once(". ")
                    && !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                {
                    l = rest;
                }
                if l == before {
                    break;
                }
            }
            l.replace(['[', ']'], "")
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

const WORDPRESS: &str = r#"
<figure class="wp-block-image size-large"><img decoding="async" width="1024" height="683" src="https://example.com/wp-content/uploads/2025/04/wang-lavrov-1024x683.jpg" alt="Wang Yi and Sergey Lavrov shake hands" class="wp-image-4211" srcset="https://example.com/a.jpg 1024w, https://example.com/b.jpg 300w" sizes="(max-width: 1024px) 100vw, 1024px" /><figcaption class="wp-element-caption">Wang Yi greets Sergey Lavrov in Beijing. <em>Photo: Agency</em></figcaption></figure>

<p>During a high-profile diplomatic meeting in Beijing, Chinese Foreign Minister <a href="https://example.com/tag/wang-yi/">Wang Yi</a> underscored the strength of China&#8217;s relationship with Russia, describing it as the &#8220;most stable, most mature and most strategically valuable relationship between major powers in the world today.&#8221;</p>

<p>The talks covered <strong>Ukraine</strong>, the <em>Korean Peninsula</em> and Iran&nbsp;&ndash; see our <a href="https://example.com/live/" target="_blank" rel="noreferrer noopener">live coverage</a>&hellip; <img draggable="false" role="img" class="emoji" alt="🔴" src="https://s.w.org/images/core/emoji/15.0.3/72x72/1f534.png"></p>

<blockquote class="twitter-tweet"><p lang="en" dir="ltr">Productive talks with my Chinese counterpart today. <a href="https://t.co/AbCdEf">pic.twitter.com/AbCdEf</a></p>&mdash; MFA Russia (@mfa_russia) <a href="https://twitter.com/mfa_russia/status/1">April 1, 2025</a></blockquote> <script async src="https://platform.twitter.com/widgets.js" charset="utf-8"></script>

<h2 class="wp-block-heading">Areas of Discussion</h2>

<ul class="wp-block-list">
<li><strong>Korean Peninsula:</strong> security and stability in the region.</li>
<li><strong>Ukraine Crisis:</strong> the central topic.</li>
</ul>
<p>The post <a href="https://example.com/2025/04/01/china-russia/">China Emphasises Strategic Partnership With Russia</a> appeared first on <a href="https://example.com">World Desk</a>.</p>
"#;

#[test]
fn wordpress_post_content() {
    assert_eq!(
        html_to_text(WORDPRESS),
        "Wang Yi greets Sergey Lavrov in Beijing. Photo: Agency\n\
         During a high-profile diplomatic meeting in Beijing, Chinese Foreign Minister Wang Yi \
         underscored the strength of China\u{2019}s relationship with Russia, describing it as the \
         \u{201c}most stable, most mature and most strategically valuable relationship between \
         major powers in the world today.\u{201d}\n\
         The talks covered Ukraine, the Korean Peninsula and Iran \u{2013} see our live coverage\u{2026} 🔴\n\
         Productive talks with my Chinese counterpart today. pic.twitter.com/AbCdEf\n\
         \u{2014} MFA Russia (@mfa_russia) April 1, 2025\n\
         Areas of Discussion\n\
         Korean Peninsula: security and stability in the region.\n\
         Ukraine Crisis: the central topic.\n\
         The post China Emphasises Strategic Partnership With Russia appeared first on World Desk."
    );
}

#[test]
fn wordpress_differs_from_html2text_only_in_decorations_images_and_figures() {
    // html2text writes "[alt]" for images, and treats <figure>/<figcaption> as inline, so
    // the caption ran into the image's alt text on one line.
    let before = today(WORDPRESS);
    assert!(before.starts_with("[Wang Yi and Sergey Lavrov shake hands]Wang Yi greets"));
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&html_to_text(WORDPRESS)), body(&undecorated(&before)),);
}

const BLOGGER: &str = r#"<div dir="ltr" style="text-align: left;" trbidi="on"><div class="separator" style="clear: both; text-align: center;"><a href="https://blogger.googleusercontent.com/img/b/R29vZ2xl/s1600/lavrov.jpg" imageanchor="1" style="margin-left: 1em; margin-right: 1em;"><img border="0" data-original-height="720" data-original-width="1280" height="360" src="https://blogger.googleusercontent.com/img/b/R29vZ2xl/s640/lavrov.jpg" width="640" /></a></div><br />During a high-profile diplomatic meeting in Beijing, Chinese Foreign Minister Wang Yi underscored the exceptional strength and value of China’s relationship with Russia.<br /><br />This statement was made as Wang met with Russian Foreign Minister Sergey Lavrov, who arrived in Beijing following a visit to North Korea.<br /><br /><b>Areas of Discussion</b><br />The talks covered a broad range of international issues:<br /><br /><span style="font-family: inherit;"><b>Korean Peninsula:</b>&nbsp;Both sides exchanged views on security.</span><br /><b>Ukraine Crisis:</b>&nbsp;The Ukraine conflict was a central topic.<br /></div>"#;

#[test]
fn blogger_post_of_divs_and_brs() {
    let want = "During a high-profile diplomatic meeting in Beijing, Chinese Foreign Minister Wang Yi \
                underscored the exceptional strength and value of China’s relationship with Russia.\n\
                This statement was made as Wang met with Russian Foreign Minister Sergey Lavrov, who \
                arrived in Beijing following a visit to North Korea.\n\
                Areas of Discussion\n\
                The talks covered a broad range of international issues:\n\
                Korean Peninsula: Both sides exchanged views on security.\n\
                Ukraine Crisis: The Ukraine conflict was a central topic.";
    assert_eq!(html_to_text(BLOGGER), want);
    // html2text showed the linked image as "[]".
    assert_eq!(undecorated(&today(BLOGGER)), want);
}

#[test]
fn agency_one_paragraph_summaries_match_html2text() {
    let summaries = [
        // BBC: plain text with an entity.
        "The foreign minister said talks with his Russian counterpart had been &quot;productive&quot; but gave no details.",
        // Reuters: one paragraph, numeric references, a dateline.
        "<p>BEIJING (Reuters) - China&#39;s top diplomat Wang Yi told Russia&#x2019;s Sergei Lavrov on Tuesday that ties were &#8220;the most stable&#8221; between major powers.</p>",
        "<p>LONDON, April 1 (Reuters) &#8211; Britain&#8217;s economy grew 0.1% in February, <a href=\"https://www.reuters.com/markets/\">official data</a> showed.<br></p>",
        // AP-style with a byline and a trailing image.
        "<p><b>WASHINGTON (AP)</b> &mdash; The Senate voted 51-49 on Thursday.</p><img src=\"https://feeds.feedburner.com/~r/ap/~4/abc\" height=\"1\" width=\"1\" alt=\"\"/>",
        "Ministers meet in Paris &amp; Berlin",
    ];
    for s in summaries {
        assert_eq!(html_to_text(s), undecorated(&today(s)), "{s}");
    }
    assert_eq!(
        html_to_text(summaries[1]),
        "BEIJING (Reuters) - China's top diplomat Wang Yi told Russia’s Sergei Lavrov on Tuesday \
         that ties were “the most stable” between major powers."
    );
}

#[test]
fn google_news_aggregated_list() {
    let s = r##"<ol><li><a href="https://news.google.com/rss/articles/CBMi1?oc=5" target="_blank">China hails ties with Russia as Lavrov visits Beijing</a>&nbsp;&nbsp;<font color="#6f6f6f">Reuters</font></li><li><a href="https://news.google.com/rss/articles/CBMi2?oc=5" target="_blank">Wang Yi meets Lavrov</a>&nbsp;&nbsp;<font color="#6f6f6f">BBC</font></li><li><strong><a href="https://news.google.com/stories/x?oc=5" target="_blank">View Full Coverage on Google News</a></strong></li></ol>"##;
    let want = "China hails ties with Russia as Lavrov visits Beijing Reuters\n\
                Wang Yi meets Lavrov BBC\n\
                View Full Coverage on Google News";
    assert_eq!(html_to_text(s), want);
    assert_eq!(undecorated(&today(s)), want);
    // The single-story form.
    let one = r##"<a href="https://news.google.com/rss/articles/CBMi?oc=5" target="_blank">Markets rally as inflation cools</a>&nbsp;&nbsp;<font color="#6f6f6f">Financial Times</font>"##;
    assert_eq!(
        html_to_text(one),
        "Markets rally as inflation cools Financial Times"
    );
}

#[test]
fn tables_give_a_line_per_row_and_a_space_between_cells() {
    let s = "<p>Results:</p><table class=\"results\"><caption>Seats won</caption><thead><tr><th>Party</th><th>Seats</th></tr></thead>\
             <tbody><tr><td>Labour</td><td>412</td></tr><tr><td>Conservative</td><td>121</td></tr>\
             <tr><td colspan=2><i>Source: Electoral Commission</i></td></tr></tbody></table><p>More soon.</p>";
    assert_eq!(
        html_to_text(s),
        "Results:\nSeats won\nParty Seats\nLabour 412\nConservative 121\nSource: Electoral Commission\nMore soon."
    );
    // Layout tables of old newsletters: cells side by side, one row.
    assert_eq!(
        html_to_text(
            "<table><tr><td><img src=logo.gif></td><td>Weekly <b>digest</b></td><td>No. 12</td></tr></table>"
        ),
        "Weekly digest No. 12"
    );
}

#[test]
fn preformatted_text_keeps_its_lines() {
    let s = "<p>Output:</p><pre><code>$ feedwatch poll\nfetched   12 feeds\n\nstored    340 items\n</code></pre><p>Done.</p>";
    assert_eq!(
        html_to_text(s),
        "Output:\n$ feedwatch poll\nfetched 12 feeds\nstored 340 items\nDone."
    );
    assert_eq!(html_to_text(s), today(s));
}

#[test]
fn entities_of_every_kind() {
    assert_eq!(
        html_to_text(
            "&amp; &lt;b&gt; &quot;q&quot; &apos;a&apos; &copy; 2025 &reg &euro;5 &frac12; &hellip; \
             &ndash;&mdash; &laquo;Le Monde&raquo; &Auml;rger &szlig; &#233;t&#xE9; &#x1F600; \
             &#128;&#x99; &#0; &#xD800; &#1114112; &nbsp;&nbsp;x&nbspy &notit; &foo; AT&T &#;"
        ),
        "& <b> \"q\" 'a' © 2025 ® €5 ½ … –— «Le Monde» Ärger ß été 😀 €™ \u{fffd} \u{fffd} \u{fffd} \
         x y ¬it; &foo; AT&T &#;"
    );
}

#[test]
fn double_escaped_text_decodes_one_level() {
    assert_eq!(html_to_text("A &amp;amp; B"), "A &amp; B");
    assert_eq!(html_to_text("&amp;lt;p&amp;gt;x"), "&lt;p&gt;x");
    // Markup that was escaped once is text, not markup.
    assert_eq!(html_to_text("&lt;p&gt;First&lt;/p&gt;"), "<p>First</p>");
}

#[test]
fn every_named_reference_decodes_as_html2text_decodes_it() {
    for (name, value) in entity_table::ENTITIES.iter() {
        let s = format!("x&{name}y");
        assert_eq!(html_to_text(&s), clean(&today(&s)), "{name} {value:?}");
    }
}

#[test]
fn numeric_references_decode_as_html2text_decodes_them() {
    let points = (0u64..0x300)
        .chain(0x2000..0x2070)
        .chain([
            0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000, 0xFDD0, 0xFEFF, 0xFFFD,
        ])
        .chain([0xFFFE, 0xFFFF, 0x1F600, 0x10FFFF, 0x110000, 0xFFFF_FFFF]);
    for n in points {
        for s in [format!("x&#{n};y"), format!("x&#x{n:X}y")] {
            assert_eq!(html_to_text(&s), clean(&today(&s)), "{s}");
        }
    }
}

#[test]
fn malformed_markup() {
    let s = "<P>Unclosed <B>bold <I>italic<p>Next</Li></UL> para</div> <a href='x' title=\"a > b\">link \
             <span class=\"x\">text <a href=y\n>more</a></P><br/><br /><BR><p>end";
    assert_eq!(
        html_to_text(s),
        "Unclosed bold italic\nNext\npara\nlink text more\nend"
    );
    // A tree builder ignores the `</li></ul>` and `</div>` that close nothing; without a
    // tree, any block end tag ends the line.
    assert_eq!(
        undecorated(&today(s)),
        "Unclosed bold italic\nNext para link text more\nend"
    );
}

#[test]
fn plain_text_with_literal_ampersands_and_less_thans() {
    let s = "AT&T and R&D spending < 5% of revenue; Q&A at 3 <4 pm";
    assert_eq!(html_to_text(s), s);
    assert_eq!(today(s), s);
    // `<b and b >` is a tag, as in HTML.
    assert_eq!(html_to_text("if a<b and b > c"), "if a c");
}

#[test]
fn plain_text_keeps_its_lines() {
    let s = "  First line \r\n\r\n\tSecond   line\n\n\nThird\u{a0}line  ";
    assert_eq!(html_to_text(s), "First line\nSecond line\nThird line");
    assert_eq!(html_to_text(s), today(s));
}

#[test]
fn cyrillic_and_cjk() {
    let s = "<p>Лавров прибыл в&nbsp;Пекин для переговоров с&nbsp;Ван И.</p>\
             <p>王毅会见俄罗斯外长拉夫罗夫。<a href=\"x\">详细</a></p><p>ロシア外相が訪中</p>";
    let want = "Лавров прибыл в Пекин для переговоров с Ван И.\n王毅会见俄罗斯外长拉夫罗夫。详细\nロシア外相が訪中";
    assert_eq!(html_to_text(s), want);
    assert_eq!(undecorated(&today(s)), want);
}

#[test]
fn a_full_page() {
    let s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>World Desk | China and Russia</title>\
             <link rel=stylesheet href=s.css><style>body{font:14px sans-serif}</style>\
             <script>window.dataLayer=[];</script></head>\n<body><header><nav><a href=/>Home</a> <a href=/world>World</a></nav></header>\
             <main><article><h1>China and Russia</h1><p>Body text.</p></article></main>\
             <footer><p>&copy; 2025 World Desk</p></footer><noscript><img src=track.gif></noscript></body></html>";
    assert_eq!(
        html_to_text(s),
        "Home World\nChina and Russia\nBody text.\n© 2025 World Desk"
    );
}

#[test]
fn html2text_ran_header_footer_and_section_into_their_neighbours() {
    // html2text treats HTML5 sectioning elements as inline; they are blocks.
    let s = "<section>First</section><section>Second</section><aside>Related</aside>";
    assert_eq!(html_to_text(s), "First\nSecond\nRelated");
    assert_eq!(today(s), "FirstSecondRelated");
}

#[test]
fn output_is_always_clean() {
    assert_eq!(
        html_to_text("<p>&#27;[2J&#x1b;]0;pwned&#7;</p>"),
        "[2J]0;pwned"
    );
    assert_eq!(
        html_to_text("Breaking\x1b[2J: <b>news</b>"),
        "Breaking[2J: news"
    );
    assert_eq!(
        html_to_text("<p>user\u{202e}gpj.exe &#x202E;x&lrm;&rlm;&#x2066;y\u{9b}z&#x9d;</p>"),
        "usergpj.exe xyz"
    );
    assert_eq!(
        html_to_text("plain\x07 text\x1b[0m\u{85}end"),
        "plain text[0m end"
    );
}

#[test]
fn very_long_paragraphs_stay_one_line() {
    let para = "word ".repeat(4000);
    let s = format!("<p>{para}</p>");
    assert_eq!(html_to_text(&s), para.trim_end());
    // html2text wrapped at its 10,000-column width.
    assert!(today(&s).lines().count() > 1);
}

#[test]
fn clean_borrows_when_nothing_changes() {
    assert!(matches!(
        clean("Plain, “quoted” — 中文\tand\nlines"),
        Cow::Borrowed(_)
    ));
    assert_eq!(
        clean("a\r\nb\x1b[0m\u{9b}c\u{200e}\u{61c}d\u{2067}"),
        "a\nb[0mcd"
    );
    assert_eq!(clean("tab\tand\nnewline\x7f\x00"), "tab\tand\nnewline");
}

#[test]
fn one_line_collapses_and_cleans() {
    assert_eq!(
        one_line("  Breaking:\r\n  talks\tin\u{a0}Beijing \u{202e}"),
        "Breaking: talks in Beijing"
    );
    assert_eq!(one_line("a\x0bb\u{2028}c\u{85}d\x1be"), "a b c de");
    assert_eq!(one_line(""), "");
}

#[test]
fn excerpts_cut_at_word_boundaries() {
    let s = "The meeting between Wang Yi and Sergey Lavrov illustrates the deepening alignment.";
    assert_eq!(excerpt(s, 200), s);
    assert_eq!(excerpt(s, s.chars().count()), s);
    assert_eq!(excerpt(s, 30), "The meeting between Wang Yi…");
    // Exactly at the end of a word.
    assert_eq!(excerpt(s, 27), "The meeting between Wang Yi…");
    assert_eq!(excerpt("Talks, then more talks", 7), "Talks…");
    // CJK needs no spaces.
    assert_eq!(
        excerpt("新华社北京4月1日电 王毅会见拉夫罗夫", 6),
        "新华社北京4…"
    );
    // One huge word is cut where it must be.
    let url = format!("see https://{}", "x".repeat(50));
    assert_eq!(excerpt(&url, 20), format!("see https://{}…", "x".repeat(8)));
    // Lines are kept, hostile characters removed, length counted in characters.
    assert_eq!(
        excerpt("Первая строка\nвторая строка", 20),
        "Первая строка\nвторая…"
    );
    assert_eq!(excerpt("\u{202e}abc def", 5), "abc…");
}

/// The shape every output must have, whatever the input.
fn assert_shape(out: &str, input: &str) {
    assert_eq!(clean(out), out, "{input:?}");
    assert!(!out.contains(['\t', '\r', '\u{a0}']), "{input:?}");
    for line in out.split('\n').filter(|_| !out.is_empty()) {
        assert!(!line.is_empty(), "empty line for {input:?}");
        assert_eq!(line, line.trim(), "blanks around a line for {input:?}");
        assert!(!line.contains("  "), "double space for {input:?}");
    }
}

#[test]
fn every_truncation_of_real_markup_renders_in_shape() {
    // Feeds cut descriptions at a length, wherever that falls.
    for doc in [WORDPRESS, BLOGGER] {
        for (i, _) in doc.char_indices() {
            let s = &doc[..i];
            assert_shape(&html_to_text(s), s);
        }
    }
}

#[test]
fn token_soup_renders_in_shape() {
    let pieces = [
        "<p>",
        "</p>",
        "<div class=\"a>b\">",
        "</div>",
        "<br/>",
        "<pre>",
        "</pre>",
        "<svg>",
        "</svg>",
        "<svg/>",
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "&amp;",
        "&amp",
        "&#",
        "&#x1b;",
        "&#128;",
        "&nbsp;",
        "&",
        "<",
        ">",
        "'",
        "\"",
        "=",
        " ",
        "\n",
        "\r",
        "\t",
        "word",
        "中文",
        "\u{202e}",
        "\x1b",
        "<td>",
        "<tr>",
        "<img alt='🙂'>",
        "<template>",
        "</template>",
        "<b",
        "</",
        "<?",
        "<!x",
        "\u{a0}",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..3000 {
        let mut s = String::new();
        for _ in 0..40 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            s.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
        }
        assert_shape(&html_to_text(&s), &s);
        assert_shape(&one_line(&s), &s);
        assert!(!one_line(&s).contains('\n'));
    }
}
