//! Whether two items carry the same story, judged from their signatures alone. Pure.
//!
//! [`Features`] holds an item's exact feature sets (used to measure what the compact form
//! costs); [`Signature`] is the compact form the writer keeps and stores: three few-bit
//! MinHash sketches (body shingles, content words, lede shingles), a bitset of number and date
//! tokens, the set sizes, and the words the index finds candidates by. [`Similarity`] is what
//! either form says about a pair, and [`Similarity::joins`] is the rule.

use super::sketch;
use super::text::{self, Extracted, mix};

/// Fewer cleaned-body tokens than this and an item does not join by text (a bare headline:
/// "Tokyo stocks close higher" is repeated every day).
pub const MIN_TOKENS: usize = 12;

/// `shingles + words` (both containments) at or above this joins.
pub const SCORE_MIN: f32 = 0.95;
/// Number and date tokens decide only when both sides have at least this many…
pub const NUMBERS_MIN: u32 = 2;
/// …and then at least this share of the smaller side's must appear in the other.
pub const NUMBERS_AGREE: f32 = 0.5;
/// An item less than half the size of the other…
pub const SIZE_RATIO: f32 = 0.5;
/// …joins only if its lede matches the other's lede this well (a trim, a summary): a follow-up
/// that quotes the first story's lede in its fourth paragraph does not…
pub const LEDE_MIN: f32 = 0.3;
/// …unless it is long (at least this many shingles, some four sentences) and shares this
/// share of its shingles: a repost that rewrote the lede and added its own commentary.
pub const SHORT: f32 = 100.0;
pub const LONG_SHINGLES: f32 = 0.3;
/// Items of the same feed join only as near-verbatim reissues (an "UPDATE 1" with a new guid):
/// a feed's own daily briefings and market wraps share its templates.
pub const SAME_FEED_SHINGLES: f32 = 0.8;
pub const SAME_FEED_LEDE: f32 = 0.8;

const BODY_BITS: u32 = 4;
const WORD_BITS: u32 = 4;
const LEDE_BITS: u32 = 4;
const BODY_WORDS: usize = 6; // 48 bins of 4 bits
const WORD_WORDS: usize = 6; // 48 bins of 4 bits
const LEDE_WORDS: usize = 4; // 32 bins of 4 bits
/// Shingles in a full lede; the lede's size is not stored but read from the body's.
const LEDE_SHINGLES: u16 = (text::LEDE_TOKENS - text::SHINGLE + 1) as u16;
/// Candidate words a signature carries: the lowest-hash content words of the body (a
/// consistent sample: copies sharing most words share most of these) and the lede's.
const BODY_PROBES: usize = 64;
const LEDE_PROBES: usize = 40;

const SEED_BODY: u64 = 0x626f_6479;
const SEED_WORDS: u64 = 0x776f_7264;
const SEED_LEDE: u64 = 0x6c65_6465;
const SEED_NUMBERS: u64 = 0x6e75_6d73;

const VERSION: u8 = 1;

/// What two items have in common, each as the share of the smaller side found in the other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// Word 3-shingles of the bodies.
    pub shingles: f32,
    /// Content words of the bodies.
    pub words: f32,
    /// Shingles of the two ledes.
    pub lede: f32,
    /// Number and date tokens, when both sides have [`NUMBERS_MIN`] of them.
    pub numbers: Option<f32>,
    /// Both sides carry exactly the same number and date tokens (or none).
    pub same_numbers: bool,
    /// Smaller over larger body, in shingles.
    pub size_ratio: f32,
    /// Shingles of the smaller body.
    pub smaller: f32,
}

impl Similarity {
    /// The strength of a match, to pick the best of several.
    pub fn score(&self) -> f32 {
        self.shingles + self.words
    }

    /// The rule: same story, or not.
    pub fn joins(&self, same_feed: bool) -> bool {
        if self.numbers.is_some_and(|n| n < NUMBERS_AGREE) {
            return false;
        }
        if self.size_ratio < SIZE_RATIO
            && self.lede < LEDE_MIN
            && (self.smaller < SHORT || self.shingles < LONG_SHINGLES)
        {
            return false;
        }
        // A feed's own items join only as reissues: near-verbatim and with the same numbers,
        // so a feed's templated reports ("report 43", "report 50") stay apart.
        if same_feed
            && (self.shingles < SAME_FEED_SHINGLES
                || self.lede < SAME_FEED_LEDE
                || !self.same_numbers)
        {
            return false;
        }
        self.score() >= SCORE_MIN
    }
}

/// The exact features of an item: every shingle and word. For measurement; the daemon keeps
/// [`Signature`]s.
#[derive(Debug, Clone)]
pub struct Features(Extracted);

impl Features {
    pub fn new(title: &str, text: &str) -> Features {
        Features(text::extract(title, text))
    }

    /// Too little text to recognise a story by.
    pub fn is_empty(&self) -> bool {
        self.0.token_hashes.len() < MIN_TOKENS
    }

    /// Hashes of the cleaned body's words in order, to measure other signals from.
    pub fn tokens(&self) -> &[u64] {
        &self.0.token_hashes
    }

    pub fn shingles(&self) -> &[u64] {
        &self.0.shingles
    }

    pub fn words(&self) -> &[u64] {
        &self.0.words
    }

    pub fn lede(&self) -> &[u64] {
        &self.0.lede
    }

    pub fn numbers(&self) -> &[u64] {
        &self.0.numbers
    }

    /// Exact similarity (what the signature estimates).
    pub fn similarity(&self, other: &Features) -> Similarity {
        let (a, b) = (&self.0, &other.0);
        let numbers = (a.numbers.len().min(b.numbers.len()) >= NUMBERS_MIN as usize)
            .then(|| containment(&a.numbers, &b.numbers));
        Similarity {
            shingles: containment(&a.shingles, &b.shingles),
            words: containment(&a.words, &b.words),
            lede: containment(&a.lede, &b.lede),
            numbers,
            same_numbers: a.numbers == b.numbers,
            size_ratio: ratio(a.shingles.len(), b.shingles.len()),
            smaller: a.shingles.len().min(b.shingles.len()) as f32,
        }
    }

    pub fn signature(&self) -> Signature {
        self.signature_seeded(0)
    }

    /// The signature with all sketch seeds shifted: to measure how much the result of the
    /// labelled set owes to one choice of hash. Signatures of different seeds do not compare.
    #[doc(hidden)]
    pub fn signature_seeded(&self, seed: u64) -> Signature {
        let e = &self.0;
        if self.is_empty() {
            return Signature::default();
        }
        let seed = mix(seed);
        let mut sig = Signature::default();
        sig.sketch.counts = Counts {
            shingles: saturate_u16(e.shingles.len()),
            words: saturate_u16(e.words.len()),
        };
        sketch::build(
            &e.shingles,
            BODY_BITS,
            SEED_BODY ^ seed,
            &mut sig.sketch.body,
        );
        sketch::build(
            &e.words,
            WORD_BITS,
            SEED_WORDS ^ seed,
            &mut sig.sketch.words,
        );
        sketch::build(&e.lede, LEDE_BITS, SEED_LEDE ^ seed, &mut sig.sketch.lede);
        for &n in &e.numbers {
            let bit = mix(n ^ SEED_NUMBERS ^ seed) >> 58;
            sig.sketch.numbers[(bit / 32) as usize] |= 1 << (bit % 32);
        }
        let key = |h: u64| (h >> 32) as u32;
        let mut body: Vec<u32> = e.key_words.iter().map(|&h| key(h)).collect();
        let mut lede: Vec<u32> = e.lede_key_words.iter().map(|&h| key(h)).collect();
        body.sort_unstable();
        body.dedup();
        body.truncate(BODY_PROBES);
        lede.sort_unstable();
        lede.dedup();
        lede.truncate(LEDE_PROBES);
        sig.body_words = body;
        sig.lede_words = lede;
        sig
    }
}

fn containment(a: &[u64], b: &[u64]) -> f32 {
    let small = a.len().min(b.len());
    if small == 0 {
        return 0.0;
    }
    // Both sorted: merge.
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f32 / small as f32
}

fn ratio(a: usize, b: usize) -> f32 {
    let large = a.max(b);
    if large == 0 {
        return 0.0;
    }
    a.min(b) as f32 / large as f32
}

fn saturate_u16(n: usize) -> u16 {
    n.min(usize::from(u16::MAX)) as u16
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    shingles: u16,
    words: u16,
}

impl Counts {
    fn lede(&self) -> u16 {
        self.shingles.min(LEDE_SHINGLES)
    }
}

/// The part of a signature the index keeps per item: 72 bytes of sketches, 4 of sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sketch {
    body: [u32; BODY_WORDS],
    words: [u32; WORD_WORDS],
    lede: [u32; LEDE_WORDS],
    /// A 64-bit set, as two words so the struct packs at 4-byte alignment.
    numbers: [u32; 2],
    counts: Counts,
}

impl Sketch {
    pub(crate) fn similarity(&self, other: &Sketch) -> Similarity {
        let (a, b) = (&self.counts, &other.counts);
        let est = |x: &[u32], y: &[u32], bits, na: u16, nb: u16| {
            let j = sketch::jaccard(x, y, bits);
            sketch::containment(j, usize::from(na), usize::from(nb))
        };
        let ones = |n: &[u32; 2]| n[0].count_ones() + n[1].count_ones();
        let (pa, pb) = (ones(&self.numbers), ones(&other.numbers));
        let common = (self.numbers[0] & other.numbers[0]).count_ones()
            + (self.numbers[1] & other.numbers[1]).count_ones();
        let numbers = (pa.min(pb) >= NUMBERS_MIN).then(|| common as f32 / pa.min(pb) as f32);
        Similarity {
            shingles: est(&self.body, &other.body, BODY_BITS, a.shingles, b.shingles),
            words: est(&self.words, &other.words, WORD_BITS, a.words, b.words),
            lede: est(&self.lede, &other.lede, LEDE_BITS, a.lede(), b.lede()),
            numbers,
            same_numbers: self.numbers == other.numbers,
            size_ratio: ratio(usize::from(a.shingles), usize::from(b.shingles)),
            smaller: f32::from(a.shingles.min(b.shingles)),
        }
    }
}

/// Computed in the CPU stage from an item's title and text (pure, any thread); compared and
/// indexed by the writer; stored as bytes ([`Signature::to_bytes`]) so the index can be rebuilt
/// at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    sketch: Sketch,
    /// Hashes of the body's lowest-hash content words, ascending: what the index looks
    /// candidates up by and picks an item's keys from.
    body_words: Vec<u32>,
    /// The same for the lede's content words.
    lede_words: Vec<u32>,
}

impl Signature {
    /// `text` as `parse::to_text` gives it (paragraphs as lines).
    pub fn new(title: &str, text: &str) -> Signature {
        Features::new(title, text).signature()
    }

    /// Too little text to join by: such an item never matches (only its URL can join it).
    pub fn is_empty(&self) -> bool {
        self.sketch.counts.shingles == 0
    }

    /// What the two signatures say about the pair (estimates).
    pub fn similarity(&self, other: &Signature) -> Similarity {
        self.sketch.similarity(&other.sketch)
    }

    pub(crate) fn sketch(&self) -> &Sketch {
        &self.sketch
    }

    pub(crate) fn body_words(&self) -> &[u32] {
        &self.body_words
    }

    pub(crate) fn lede_words(&self) -> &[u32] {
        &self.lede_words
    }

    /// Version byte, word counts, sizes, sketches, then the candidate words; little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let words = self.body_words.len() + self.lede_words.len();
        let mut out = Vec::with_capacity(80 + 4 * words);
        out.push(VERSION);
        out.push(self.body_words.len() as u8);
        out.push(self.lede_words.len() as u8);
        let s = &self.sketch;
        out.extend(s.counts.shingles.to_le_bytes());
        out.extend(s.counts.words.to_le_bytes());
        for w in s
            .body
            .iter()
            .chain(&s.words)
            .chain(&s.lede)
            .chain(&s.numbers)
        {
            out.extend(w.to_le_bytes());
        }
        for k in self.body_words.iter().chain(&self.lede_words) {
            out.extend(k.to_le_bytes());
        }
        out
    }

    /// `None` for bytes of another version or a damaged record.
    pub fn from_bytes(bytes: &[u8]) -> Option<Signature> {
        let mut r = Reader(bytes);
        if r.u8()? != VERSION {
            return None;
        }
        let body_words = usize::from(r.u8()?);
        let lede_words = usize::from(r.u8()?);
        if body_words > BODY_PROBES || lede_words > LEDE_PROBES {
            return None;
        }
        let counts = Counts {
            shingles: r.u16()?,
            words: r.u16()?,
        };
        let mut sketch = Sketch {
            counts,
            ..Sketch::default()
        };
        for w in sketch
            .body
            .iter_mut()
            .chain(&mut sketch.words)
            .chain(&mut sketch.lede)
            .chain(&mut sketch.numbers)
        {
            *w = r.u32()?;
        }
        let mut words = |n: usize| (0..n).map(|_| r.u32()).collect::<Option<Vec<_>>>();
        let body_words = words(body_words)?;
        let lede_words = words(lede_words)?;
        r.0.is_empty().then_some(Signature {
            sketch,
            body_words,
            lede_words,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIRE: &str = "BEIJING, April 1 (Reuters) - Chinese Foreign Minister Wang Yi told his Russian counterpart Sergei Lavrov on Tuesday that relations between the two countries were the \"most stable, most mature and most strategically valuable relationship between major powers in the world today.\"
Lavrov arrived in Beijing after a visit to North Korea, where he received further assurances of support for Moscow's war in Ukraine.
Wang's remarks, carried in a readout from the Chinese foreign ministry, came as both China and Russia face increasingly fraught relations with the United States.
The two sides would deepen comprehensive strategic cooperation, promote each other's development and revitalisation, and jointly respond to the challenges of a turbulent and changing world, the readout said.
China says it is neutral in the conflict in Ukraine, but it has not condemned Russia's 2022 invasion nor called for the withdrawal of Russian troops.";

    fn lede_only() -> String {
        WIRE.lines().take(2).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_copy_joins_and_its_trim_joins() {
        let wire = Features::new("China says Russia ties stable", WIRE);
        let copy = Features::new(
            "China Says Russia Ties Stable | Herald",
            &WIRE
                .replace("(Reuters) - ", "(Reuters) \u{2014} ")
                .replace('\'', "\u{2019}"),
        );
        let trim = Features::new("China stresses Russia ties", &lede_only());
        for other in [&copy, &trim] {
            let s = wire.similarity(other);
            assert!(s.joins(false), "{s:?}");
            let s = wire.signature().similarity(&other.signature());
            assert!(s.joins(false), "{s:?}");
        }
    }

    #[test]
    fn a_follow_up_quoting_the_lede_stays_apart_from_the_trim() {
        let follow_up = format!(
            "Chinese President Xi Jinping will travel to Moscow next month to attend celebrations marking the end of World War Two, the Kremlin said on Wednesday.
Kremlin spokesman Dmitry Peskov told reporters that Xi and President Vladimir Putin would hold talks on trade, energy and the most pressing international issues.
{}
Xi last visited Russia in March 2023, when he and Putin signed agreements on economic cooperation and declared their partnership was entering a new era.
Putin has said he plans to visit China later this year for a summit of the Shanghai Cooperation Organisation in Tianjin.
Western leaders have been invited to the parade but most are expected to stay away because of the war in Ukraine.",
            lede_only().replace("BEIJING, April 1 (Reuters) - ", "On Tuesday, ")
        );
        let trim = Features::new("China stresses Russia ties", &lede_only());
        let f = Features::new("Xi to visit Moscow", &follow_up);
        let s = trim.similarity(&f);
        assert!(s.shingles > 0.8, "the trim is inside the follow-up: {s:?}");
        assert!(!s.joins(false), "{s:?}");
    }

    #[test]
    fn two_days_of_a_template_stay_apart_by_their_numbers() {
        let day = |d: &str, toll: &str, today: &str, wounded: &str| {
            format!(
                "The death toll in Gaza from Israel's military offensive has risen to {toll} people, the enclave's health ministry said on {d}, with {today} people killed over the past 24 hours.
A total of {wounded} people have been wounded since the war began on October 7, 2023, the ministry said in a statement.
The ministry said many victims remained under the rubble and in the streets, where rescue teams could not reach them."
            )
        };
        let a = Features::new("t", &day("Monday", "50,752", "57", "115,475"));
        let b = Features::new("t", &day("Tuesday", "50,810", "58", "115,688"));
        let s = a.similarity(&b);
        assert!(
            s.shingles > 0.6 && s.numbers.is_some_and(|n| n < 0.5),
            "{s:?}"
        );
        assert!(!s.joins(false) && !s.joins(true));
        assert!(
            a.similarity(&a).joins(true),
            "a verbatim reissue joins its own feed"
        );
    }

    #[test]
    fn a_bare_headline_never_joins() {
        let sig = Signature::new("Tokyo stocks close higher", "Tokyo stocks close higher");
        assert!(sig.is_empty());
        assert!(!sig.similarity(&sig).joins(false));
    }

    #[test]
    fn bytes_round_trip_and_reject_damage() {
        let sig = Signature::new("t", WIRE);
        assert!(sig.body_words.len() > 10 && sig.body_words.is_sorted());
        assert!(!sig.lede_words.is_empty() && sig.lede_words.is_sorted());
        let bytes = sig.to_bytes();
        assert_eq!(Signature::from_bytes(&bytes), Some(sig.clone()));
        assert_eq!(Signature::from_bytes(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Signature::from_bytes(&longer), None);
        let mut other_version = bytes;
        other_version[0] = 2;
        assert_eq!(Signature::from_bytes(&other_version), None);
        let empty = Signature::default();
        assert_eq!(Signature::from_bytes(&empty.to_bytes()), Some(empty));
    }

    #[test]
    fn a_copy_carries_the_lowest_hash_words_of_the_original() {
        let a = Signature::new("t", WIRE);
        let b = Signature::new("t", &lede_only());
        // The trim's words are the lede's: all of them are among the full story's lede words.
        assert!(b.lede_words.iter().all(|w| a.lede_words.contains(w)));
        // The lowest-hash words of the full story that occur in the trim are the trim's
        // lowest: the sample is consistent.
        let shared: Vec<&u32> = a
            .body_words
            .iter()
            .filter(|w| b.body_words.contains(w))
            .collect();
        assert!(!shared.is_empty());
        assert_eq!(shared[0], &b.body_words[0]);
    }
}
