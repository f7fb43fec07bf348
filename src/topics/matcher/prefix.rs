//! Prefix stems (`sanction*`) in a byte trie: a token finds every stem it starts with by one
//! walk down its own bytes, however many stems there are.

#[derive(Debug, Default)]
pub(super) struct PrefixTrie {
    nodes: Vec<Node>,
    /// The root's children by first byte (0: none), so most tokens stop after one load.
    first: Vec<u32>,
}

#[derive(Debug, Default)]
struct Node {
    /// Sorted by byte.
    edges: Vec<(u8, u32)>,
    /// Terms whose stem ends here.
    terms: Vec<u32>,
}

impl PrefixTrie {
    pub(super) fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    pub(super) fn insert(&mut self, stem: &str, term: u32) {
        if self.nodes.is_empty() {
            self.nodes.push(Node::default());
            self.first = vec![0; 256];
        }
        let mut n = 0usize;
        for &b in stem.as_bytes() {
            n = match self.nodes[n].edges.binary_search_by_key(&b, |e| e.0) {
                Ok(i) => self.nodes[n].edges[i].1 as usize,
                Err(i) => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[n].edges.insert(i, (b, child as u32));
                    child
                }
            };
        }
        self.nodes[n].terms.push(term);
        for &(b, child) in &self.nodes[0].edges {
            self.first[b as usize] = child;
        }
    }

    /// Append to `out` the terms of every stem `token` starts with.
    pub(super) fn walk(&self, token: &str, out: &mut Vec<u32>) {
        let bytes = token.as_bytes();
        let Some(&b) = bytes.first() else { return };
        let mut n = self.first.get(b as usize).copied().unwrap_or(0) as usize;
        if n == 0 {
            return;
        }
        out.extend_from_slice(&self.nodes[n].terms);
        for &b in &bytes[1..] {
            let Some(node) = self.nodes.get(n) else {
                return;
            };
            n = match node.edges.binary_search_by_key(&b, |e| e.0) {
                Ok(i) => node.edges[i].1 as usize,
                Err(_) => return,
            };
            out.extend_from_slice(&self.nodes[n].terms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_stem_a_token_starts_with() {
        let mut t = PrefixTrie::default();
        t.insert("sanction", 1);
        t.insert("sanc", 2);
        t.insert("san", 3);
        t.insert("sam", 4);
        let mut out = Vec::new();
        t.walk("sanctioned", &mut out);
        assert_eq!(out, [3, 2, 1]);
        out.clear();
        t.walk("sa", &mut out);
        assert!(out.is_empty(), "a token shorter than every stem");
        t.walk("xsanction", &mut out);
        assert!(out.is_empty(), "stems anchor at the token's start");
    }
}
