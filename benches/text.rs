//! HTML → text throughput: our streaming converter against html2text (what `parse::to_text`
//! used), on a ~5 KB article, a ~400 B summary, and deeply nested markup.
//!
//! `cargo bench --bench text`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::text::html_to_text;

/// `parse::to_text` as it was: html2text, then blank-collapsing per line.
fn html2text_today(s: &str) -> String {
    let rendered = html2text::config::plain_no_decorate()
        .no_link_wrapping()
        .string_from_read(s.as_bytes(), 10_000)
        .unwrap_or_else(|_| s.to_string());
    rendered
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A WordPress article body as it appears in `content:encoded`.
fn article() -> String {
    let paragraphs = [
        "During a high-profile diplomatic meeting in Beijing, Chinese Foreign Minister <a href=\"https://example.com/tag/wang-yi/\">Wang Yi</a> underscored the exceptional strength and value of China&#8217;s relationship with Russia, describing it as the &#8220;most stable, most mature and most strategically valuable relationship between major powers in the world today.&#8221;",
        "This statement was made as Wang met with Russian Foreign Minister <a href=\"https://example.com/tag/sergey-lavrov/\">Sergey Lavrov</a>, who arrived in Beijing following a visit to North Korea, where he received further assurances of support for Moscow amid the ongoing war in Ukraine and shifting global dynamics.",
        "Wang Yi&#8217;s remarks came against a backdrop of heightened geopolitical tensions, notably the protracted conflict in Ukraine and increasingly fraught relations between both China and Russia with the <em>United States</em>.",
        "The Chinese foreign ministry&#8217;s readout of the meeting emphasized a shared commitment to deepening comprehensive strategic cooperation, promoting mutual development and revitalization, and responding jointly to the challenges of a turbulent and changing world order.",
        "Both ministers highlighted the depth and resilience of their bilateral ties, with Wang noting that China and Russia consistently approach their cooperation from a long-term, strategic perspective.",
        "China continues to assert its neutrality in the Russia-Ukraine conflict, calling for dialogue and a political settlement. Despite these claims, China&#8217;s refusal to denounce Russia&#8217;s actions and its regular criticism of Western military support for Ukraine have led to skepticism among Ukraine&#8217;s allies.",
        "China&#8217;s official statements frequently stress the need for an end to hostilities and warn against what it describes as Western efforts to &#8220;add fuel to the fire&#8221; of the conflict. At the <a href=\"https://example.com/tag/un/\">United Nations</a>, China has occasionally supported resolutions calling for an end to the fighting.",
        "China&#8217;s approach to its relationship with Russia remains guided by a blend of pragmatic interests and shared opposition to Western dominance in global affairs. The latest meeting serves to reinforce their comprehensive strategic partnership and signals continued coordination on major regional and international challenges, officials in both capitals said on&nbsp;Tuesday.",
        "Analysts said the visit, the second in as many months, was closely watched in Washington and Brussels, where officials have warned Chinese firms against supplying dual-use goods to Russia&#8217;s defence industry &mdash; allegations Beijing denies.",
        "The meeting between Wang Yi and Sergey Lavrov illustrates the deepening strategic alignment between China and Russia. Their partnership encompasses collaboration in multilateral forums such as the United Nations, Shanghai Cooperation Organisation (SCO), BRICS, G20, and APEC.",
    ];
    let items = [
        "<strong>Korean Peninsula:</strong> Both sides exchanged views on security and stability in the region, building on Lavrov&#8217;s recent discussions in North Korea.",
        "<strong>Ukraine Crisis:</strong> The Ukraine conflict was a central topic. While China maintains a stance of neutrality, it has not condemned Russia&#8217;s 2022 invasion.",
        "<strong>Iranian Nuclear Issue:</strong> The ministers discussed ongoing efforts to address the Iranian nuclear situation.",
        "<strong>Other Global Hotspots:</strong> The agenda also included the war in Gaza and relations with the United States.",
    ];
    let mut s = String::from(
        "<figure class=\"wp-block-image size-large\"><img decoding=\"async\" width=\"1024\" height=\"683\" src=\"https://example.com/wp-content/uploads/2025/04/wang-lavrov-1024x683.jpg\" alt=\"Wang Yi and Sergey Lavrov\" class=\"wp-image-4211\" srcset=\"https://example.com/a-1024x683.jpg 1024w, https://example.com/a-300x200.jpg 300w, https://example.com/a-768x512.jpg 768w\" sizes=\"(max-width: 1024px) 100vw, 1024px\" /><figcaption class=\"wp-element-caption\">Wang Yi greets Sergey Lavrov in Beijing. <em>Photo: Agency</em></figcaption></figure>\n",
    );
    for p in paragraphs {
        s.push_str(&format!("\n<p>{p}</p>\n"));
    }
    s.push_str("\n<h2 class=\"wp-block-heading\">Areas of Discussion</h2>\n\n<ul class=\"wp-block-list\">\n");
    for li in items {
        s.push_str(&format!("<li>{li}</li>\n"));
    }
    s.push_str("</ul>\n\n<blockquote class=\"twitter-tweet\"><p lang=\"en\" dir=\"ltr\">Productive talks with my Chinese counterpart today. <a href=\"https://t.co/AbCdEf\">pic.twitter.com/AbCdEf</a></p>&mdash; MFA Russia (@mfa_russia) <a href=\"https://twitter.com/mfa_russia/status/1\">April 1, 2025</a></blockquote> <script async src=\"https://platform.twitter.com/widgets.js\" charset=\"utf-8\"></script>\n");
    s.push_str("\n<p>The post <a href=\"https://example.com/2025/04/01/china-russia/\">China Emphasises Strategic Partnership With Russia</a> appeared first on <a href=\"https://example.com\">World Desk</a>.</p>\n");
    s
}

const SUMMARY: &str = "<p>BEIJING, April 1 (Reuters) &#8211; China&#8217;s top diplomat Wang Yi told Russian Foreign Minister Sergei Lavrov on Tuesday that relations between the two countries were &#8220;the most stable, most mature&#8221; between major powers, as Beijing prepares for <a href=\"https://www.reuters.com/world/\">a visit</a> by President Vladimir Putin later this year.</p>";

fn typical(c: &mut Criterion) {
    let article = article();
    for (name, input) in [("article", article.as_str()), ("summary", SUMMARY)] {
        let mut g = c.benchmark_group(format!("{name}_{}B", input.len()));
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("html_to_text", |b| {
            b.iter(|| html_to_text(black_box(input)))
        });
        g.bench_function("html2text", |b| {
            b.iter(|| html2text_today(black_box(input)))
        });
        g.finish();
    }
}

fn nested(c: &mut Criterion) {
    let divs = |n: usize| format!("{}a{}", "<div>".repeat(n), "</div>".repeat(n));
    let mut g = c.benchmark_group("nested");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    // The 64 KiB description of 16,360 nested <ol> that took html2text over 2 s.
    let ols = format!("{}x{}", "<ol>".repeat(16_360), "</ol>".repeat(16));
    g.throughput(Throughput::Bytes(ols.len() as u64));
    g.bench_function("html_to_text/ol_16360", |b| {
        b.iter(|| html_to_text(black_box(&ols)))
    });
    for n in [5_000, 40_000] {
        let s = divs(n);
        g.throughput(Throughput::Bytes(s.len() as u64));
        g.bench_with_input(BenchmarkId::new("html_to_text/div", n), &s, |b, s| {
            b.iter(|| html_to_text(black_box(s)))
        });
    }
    let s = divs(5_000);
    g.throughput(Throughput::Bytes(s.len() as u64));
    g.bench_with_input(BenchmarkId::new("html2text/div", 5_000), &s, |b, s| {
        b.iter(|| html2text_today(black_box(s)))
    });
    g.finish();
}

criterion_group!(benches, typical, nested);
criterion_main!(benches);
