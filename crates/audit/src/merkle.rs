//! The Merkle tree of RFC 6962 / RFC 9162 over the log's leaves: hashing, an append-only
//! [`Frontier`], and inclusion and consistency proofs with their verification.
//!
//! Hashing (RFC 9162 section 2.1.1): the empty tree is `SHA-256("")`, a leaf is
//! `SHA-256(0x00 || data)`, an inner node is `SHA-256(0x01 || left || right)`, and a tree of `n > 1`
//! leaves splits at the largest power of two below `n`.
//!
//! **Nodes.** Every hash the log ever needs is the root of a *complete, aligned* subtree: the
//! `2^level` leaves starting at `index * 2^level`, named by a [`NodeId`]. Such a node never changes
//! once its last leaf is appended. [`Frontier::append`] returns the nodes each append completes, so
//! the store persists them (at most `1 + trailing ones of the old size` per append, about two on
//! average). A proof or root for any size is then a fold over `O(log n)` stored nodes.
//!
//! **Sans-IO proofs.** Proof generation comes in two steps so that an async store can fetch nodes
//! in one query: [`inclusion_nodes`] / [`consistency_nodes`] list the nodes a proof needs, the store
//! loads them into a [`NodeSource`] (e.g. [`MemoryNodes`]), and [`inclusion_proof`] /
//! [`consistency_proof`] assemble the proof. Verification ([`verify_inclusion`],
//! [`verify_consistency`]) follows the algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2.

use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::digest;

/// A SHA-256 hash: a leaf hash, a node or a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; 32]);

impl Hash {
    /// The length in bytes.
    pub const LEN: usize = 32;

    /// From bytes.
    pub const fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// From a slice of exactly 32 bytes.
    pub fn from_slice(b: &[u8]) -> Result<Self, MerkleError> {
        <[u8; 32]>::try_from(b)
            .map(Self)
            .map_err(|_| MerkleError::HashLength(b.len()))
    }

    /// From 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, MerkleError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).map_err(|_| MerkleError::HashHex)?;
        Ok(Self(b))
    }

    /// The bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// SHA-256 of the concatenation of `parts`.
    pub(crate) fn sha256(parts: &[&[u8]]) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for p in parts {
            ctx.update(p);
        }
        let d = ctx.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Errors of tree arithmetic and proof verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// A hash of the wrong length.
    #[error("a hash has 32 bytes, not {0}")]
    HashLength(usize),
    /// Hex that is not 64 hex digits.
    #[error("a hash is 64 hex digits")]
    HashHex,
    /// A leaf index not below the tree size.
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// An old size larger than the new size.
    #[error("tree size {old} is larger than {new}")]
    SizeOrder {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The tree cannot grow further (2^63 leaves).
    #[error("the tree is full")]
    TreeFull,
    /// A proof has the wrong number of hashes.
    #[error("proof has the wrong length")]
    ProofLength,
    /// A proof does not lead to the expected root.
    #[error("proof does not match the root")]
    RootMismatch,
}

/// A proof could not be built: bad arguments, or the node source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    /// Bad sizes or index.
    #[error(transparent)]
    Tree(#[from] MerkleError),
    /// The node source failed or lacks a node.
    #[error("node source: {0}")]
    Source(E),
}

/// The largest tree this module handles: sizes stay below 2^63.
pub const MAX_SIZE: u64 = 1 << 63;

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash::sha256(&[])
}

/// The leaf hash of `data`: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Hash::sha256(&[&[0x00], data])
}

/// An inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::sha256(&[&[0x01], &left.0, &right.0])
}

/// A complete, aligned subtree: leaves `index * 2^level .. (index + 1) * 2^level`. Level 0 nodes
/// are leaf hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves (0..=62).
    pub level: u8,
    /// Position among the nodes of that level.
    pub index: u64,
}

/// A node and its hash, as the store persists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node {
    /// Which node.
    pub id: NodeId,
    /// Its hash.
    pub hash: Hash,
}

/// Where proofs read complete subtree hashes from.
pub trait NodeSource {
    /// The source's error.
    type Error;
    /// The hash of a complete aligned subtree.
    fn node(&self, id: NodeId) -> Result<Hash, Self::Error>;
}

/// A node is missing from a [`MemoryNodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("node at level {} index {} is missing", .0.level, .0.index)]
pub struct MissingNode(pub NodeId);

/// Nodes held in memory: for tests, and for the nodes a store fetched for one proof.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryNodes(BTreeMap<NodeId, Hash>);

impl MemoryNodes {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node.
    pub fn insert(&mut self, node: Node) {
        self.0.insert(node.id, node.hash);
    }

    /// How many nodes are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Extend<Node> for MemoryNodes {
    fn extend<T: IntoIterator<Item = Node>>(&mut self, iter: T) {
        for n in iter {
            self.insert(n);
        }
    }
}

impl FromIterator<Node> for MemoryNodes {
    fn from_iter<T: IntoIterator<Item = Node>>(iter: T) -> Self {
        let mut m = Self::new();
        m.extend(iter);
        m
    }
}

impl NodeSource for MemoryNodes {
    type Error = MissingNode;
    fn node(&self, id: NodeId) -> Result<Hash, MissingNode> {
        self.0.get(&id).copied().ok_or(MissingNode(id))
    }
}

/// The largest power of two strictly below `n`, for `n >= 2`.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The complete aligned subtrees that make up leaves `lo..hi`, left to right. The Merkle tree hash
/// of the range is their right fold with [`node_hash`]. Valid for every range the RFC recursion
/// produces: `lo` is a multiple of the largest power of two not above `hi - lo`.
fn range_ids(lo: u64, hi: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut pos = lo;
    let mut rem = hi.saturating_sub(lo);
    while rem > 0 {
        let level = 63 - rem.leading_zeros();
        out.push(NodeId {
            // `level` is at most 63, so the cast cannot truncate.
            level: level as u8,
            index: pos >> level,
        });
        pos += 1u64 << level;
        rem -= 1u64 << level;
    }
    out
}

fn fold_range<S: NodeSource>(src: &S, lo: u64, hi: u64) -> Result<Hash, ProofError<S::Error>> {
    let ids = range_ids(lo, hi);
    let mut acc: Option<Hash> = None;
    for id in ids.iter().rev() {
        let h = src.node(*id).map_err(ProofError::Source)?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    Ok(acc.unwrap_or_else(empty_root))
}

/// The ranges whose hashes form the inclusion proof of `index`, bottom-up (RFC 9162 2.1.3.1).
fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    if size > MAX_SIZE {
        return Err(MerkleError::TreeFull);
    }
    let (mut lo, mut hi) = (0u64, size);
    let mut top_down = Vec::new();
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            top_down.push((lo + k, hi));
            hi = lo + k;
        } else {
            top_down.push((lo, lo + k));
            lo += k;
        }
    }
    top_down.reverse();
    Ok(top_down)
}

/// The ranges whose hashes form the consistency proof from `old` to `new` (RFC 9162 2.1.4.1).
fn consistency_ranges(old: u64, new: u64) -> Result<Vec<(u64, u64)>, MerkleError> {
    if old > new {
        return Err(MerkleError::SizeOrder { old, new });
    }
    if new > MAX_SIZE {
        return Err(MerkleError::TreeFull);
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled: `m` is relative to `lo`.
    let (mut m, mut lo, mut hi, mut b) = (old, 0u64, new, true);
    let mut top_down = Vec::new();
    loop {
        let n = hi - lo;
        if m == n {
            if !b {
                top_down.push((lo, hi));
            }
            break;
        }
        let k = split(n);
        if m <= k {
            top_down.push((lo + k, hi));
            hi = lo + k;
        } else {
            top_down.push((lo, lo + k));
            m -= k;
            lo += k;
            b = false;
        }
    }
    top_down.reverse();
    Ok(top_down)
}

fn ids_of(ranges: &[(u64, u64)]) -> Vec<NodeId> {
    let mut ids: Vec<NodeId> = ranges
        .iter()
        .flat_map(|&(lo, hi)| range_ids(lo, hi))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn assemble<S: NodeSource>(
    src: &S,
    ranges: &[(u64, u64)],
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    ranges
        .iter()
        .map(|&(lo, hi)| fold_range(src, lo, hi))
        .collect()
}

/// The nodes [`root`] needs for a tree of `size` leaves.
pub fn root_nodes(size: u64) -> Result<Vec<NodeId>, MerkleError> {
    if size > MAX_SIZE {
        return Err(MerkleError::TreeFull);
    }
    Ok(range_ids(0, size))
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Hash, ProofError<S::Error>> {
    if size > MAX_SIZE {
        return Err(MerkleError::TreeFull.into());
    }
    fold_range(src, 0, size)
}

/// The nodes [`inclusion_proof`] needs.
pub fn inclusion_nodes(index: u64, size: u64) -> Result<Vec<NodeId>, MerkleError> {
    Ok(ids_of(&inclusion_ranges(index, size)?))
}

/// The inclusion proof (audit path) of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    assemble(src, &inclusion_ranges(index, size)?)
}

/// The nodes [`consistency_proof`] needs.
pub fn consistency_nodes(old: u64, new: u64) -> Result<Vec<NodeId>, MerkleError> {
    Ok(ids_of(&consistency_ranges(old, new)?))
}

/// The consistency proof between the trees of `old` and `new` leaves. Empty when `old` is 0 or
/// equal to `new`.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    assemble(src, &consistency_ranges(old, new)?)
}

/// The longest proof accepted: a tree below 2^63 leaves never needs more.
const MAX_PROOF: usize = 64;

/// Verifies that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves with `root`
/// (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    if proof.len() > MAX_PROOF {
        return Err(MerkleError::ProofLength);
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(MerkleError::ProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(MerkleError::ProofLength);
    }
    if r != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `old` leaves with `old_root` is a prefix of the tree of `new` leaves
/// with `new_root` (RFC 9162 section 2.1.4.2). For `old == new` the proof must be empty and the
/// roots equal; for `old == 0` the proof must be empty and `old_root` the empty root.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old > new {
        return Err(MerkleError::SizeOrder { old, new });
    }
    if proof.len() > MAX_PROOF {
        return Err(MerkleError::ProofLength);
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(MerkleError::ProofLength);
        }
        let expected_old = if old == 0 { empty_root() } else { *new_root };
        if *old_root != expected_old {
            return Err(MerkleError::RootMismatch);
        }
        return Ok(());
    }
    let mut path = proof.iter();
    let first = if old.is_power_of_two() {
        *old_root
    } else {
        *path.next().ok_or(MerkleError::ProofLength)?
    };
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in path {
        if snode == 0 {
            return Err(MerkleError::ProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(MerkleError::ProofLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// The right edge of the tree: the roots of the complete aligned subtrees that make up the first
/// `size` leaves, largest first. Gives the root after each append in `O(log n)` and never reads
/// old leaves. Cheap to clone: take a copy before a batch and drop it if the commit fails.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// One hash per set bit of `size`, highest bit first.
    stack: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored nodes (reads
    /// [`root_nodes`]`(size)`, at most 63 nodes).
    pub fn from_source<S: NodeSource>(src: &S, size: u64) -> Result<Self, ProofError<S::Error>> {
        let ids = root_nodes(size)?;
        let stack = ids
            .iter()
            .map(|id| src.node(*id).map_err(ProofError::Source))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, stack })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The nodes of the frontier, largest first: what [`Frontier::from_source`] reads.
    pub fn nodes(&self) -> Vec<Node> {
        range_ids(0, self.size)
            .into_iter()
            .zip(self.stack.iter())
            .map(|(id, hash)| Node { id, hash: *hash })
            .collect()
    }

    /// The tree's root (RFC 9162 MTH).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// Appends a leaf hash. Returns the nodes this append completed, lowest first: the leaf itself
    /// (level 0) and every subtree it closes.
    pub fn append(&mut self, leaf: Hash) -> Result<Vec<Node>, MerkleError> {
        if self.size >= MAX_SIZE {
            return Err(MerkleError::TreeFull);
        }
        let mut index = self.size;
        let mut level: u8 = 0;
        let mut hash = leaf;
        let mut done = vec![Node {
            id: NodeId { level, index },
            hash,
        }];
        while index & 1 == 1 {
            // Invariant: a set low bit of the old size means the stack holds that subtree.
            let Some(left) = self.stack.pop() else {
                return Err(MerkleError::TreeFull);
            };
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
            done.push(Node {
                id: NodeId { level, index },
                hash,
            });
        }
        self.stack.push(hash);
        self.size += 1;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 9162 MTH computed the slow, obvious way.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// RFC 9162 PATH, recursive, for comparison.
    fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return vec![];
        }
        let k = split(n as u64) as usize;
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    /// RFC 9162 SUBPROOF, recursive, for comparison.
    fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { vec![] } else { vec![mth(leaves)] };
        }
        let k = split(n as u64) as usize;
        if m <= k {
            let mut p = subproof(m, &leaves[..k], b);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn build(ls: &[Hash]) -> (Frontier, MemoryNodes, Vec<Hash>) {
        let mut f = Frontier::new();
        let mut nodes = MemoryNodes::new();
        let mut roots = vec![f.root()];
        for l in ls {
            nodes.extend(f.append(*l).unwrap());
            roots.push(f.root());
        }
        (f, nodes, roots)
    }

    #[test]
    fn empty_tree_hash_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Frontier::new().root(), empty_root());
    }

    #[test]
    fn leaf_and_node_hashes_have_domain_prefixes() {
        // SHA-256 of the single byte 0x00: the leaf hash of empty data (RFC 6962 test vector).
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut cat = vec![1u8];
        cat.extend_from_slice(a.as_bytes());
        cat.extend_from_slice(b.as_bytes());
        assert_eq!(node_hash(&a, &b), Hash::sha256(&[&cat]));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn rfc6962_reference_roots() {
        // Roots of the certificate-transparency-go test tree (leaves are the byte strings below),
        // for sizes 1..=8.
        let data: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut f = Frontier::new();
        for (d, want) in data.iter().zip(expected) {
            f.append(leaf_hash(d)).unwrap();
            assert_eq!(f.root().to_hex(), want, "size {}", f.size());
        }
    }

    #[test]
    fn append_reports_completed_nodes() {
        let mut f = Frontier::new();
        let ls = leaves(4);
        let n0 = f.append(ls[0]).unwrap();
        assert_eq!(n0.len(), 1);
        let n1 = f.append(ls[1]).unwrap();
        assert_eq!(
            n1.iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![NodeId { level: 0, index: 1 }, NodeId { level: 1, index: 0 }]
        );
        assert_eq!(n1[1].hash, node_hash(&ls[0], &ls[1]));
        f.append(ls[2]).unwrap();
        let n3 = f.append(ls[3]).unwrap();
        assert_eq!(n3.len(), 3);
        assert_eq!(n3[2].id, NodeId { level: 2, index: 0 });
        assert_eq!(n3[2].hash, mth(&ls));
    }

    #[test]
    fn proofs_reject_bad_arguments() {
        let (_, nodes, _) = build(&leaves(5));
        assert!(matches!(
            inclusion_proof(&nodes, 5, 5),
            Err(ProofError::Tree(MerkleError::IndexOutOfRange { .. }))
        ));
        assert!(matches!(
            consistency_proof(&nodes, 6, 5),
            Err(ProofError::Tree(MerkleError::SizeOrder { .. }))
        ));
        // Asking for a bigger tree than the source holds reports the missing node.
        assert!(matches!(
            inclusion_proof(&nodes, 0, 6),
            Err(ProofError::Source(MissingNode(_)))
        ));
    }

    #[test]
    fn consistency_edge_cases() {
        let ls = leaves(3);
        let (_, nodes, roots) = build(&ls);
        assert!(consistency_proof(&nodes, 3, 3).unwrap().is_empty());
        verify_consistency(3, 3, &roots[3], &roots[3], &[]).unwrap();
        assert_eq!(
            verify_consistency(3, 3, &roots[2], &roots[3], &[]),
            Err(MerkleError::RootMismatch)
        );
        verify_consistency(0, 3, &empty_root(), &roots[3], &[]).unwrap();
        assert_eq!(
            verify_consistency(0, 3, &roots[1], &roots[3], &[]),
            Err(MerkleError::RootMismatch)
        );
        // A growing tree always needs a non-empty proof.
        assert_eq!(
            verify_consistency(1, 3, &roots[1], &roots[3], &[]),
            Err(MerkleError::ProofLength)
        );
        assert_eq!(
            verify_consistency(2, 3, &roots[2], &roots[3], &[]),
            Err(MerkleError::ProofLength)
        );
    }

    proptest! {
        #[test]
        fn frontier_matches_naive_mth_and_proofs_verify(n in 1usize..70, seed in any::<u64>()) {
            let ls = leaves(n);
            let (f, nodes, roots) = build(&ls);
            for (size, r) in roots.iter().enumerate() {
                prop_assert_eq!(*r, mth(&ls[..size]));
                prop_assert_eq!(root(&nodes, size as u64).unwrap(), *r);
                prop_assert_eq!(Frontier::from_source(&nodes, size as u64).unwrap().root(), *r);
            }
            prop_assert_eq!(f.root(), mth(&ls));
            prop_assert_eq!(Frontier::from_source(&nodes, n as u64).unwrap(), f);

            let size = 1 + (seed % n as u64) as usize;
            let index = ((seed >> 16) % size as u64) as usize;
            let p = inclusion_proof(&nodes, index as u64, size as u64).unwrap();
            prop_assert_eq!(&p, &path(index, &ls[..size]));
            let needed = inclusion_nodes(index as u64, size as u64).unwrap();
            let only: MemoryNodes = needed.iter().map(|id| Node { id: *id, hash: nodes.node(*id).unwrap() }).collect();
            prop_assert_eq!(inclusion_proof(&only, index as u64, size as u64).unwrap(), p.clone());
            prop_assert!(needed.len() <= 2 * 64);
            verify_inclusion(&ls[index], index as u64, size as u64, &p, &roots[size]).unwrap();
            // Wrong leaf, wrong index, wrong root, truncated or extended proof: all fail.
            let other = leaf_hash(b"other");
            prop_assert!(verify_inclusion(&other, index as u64, size as u64, &p, &roots[size]).is_err());
            if size > 1 {
                let wrong = (index + 1) % size;
                prop_assert!(verify_inclusion(&ls[index], wrong as u64, size as u64, &p, &roots[size]).is_err());
                prop_assert!(verify_inclusion(&ls[index], index as u64, size as u64, &p[..p.len() - 1], &roots[size]).is_err());
            }
            let mut longer = p.clone();
            longer.push(other);
            prop_assert!(verify_inclusion(&ls[index], index as u64, size as u64, &longer, &roots[size]).is_err());
            prop_assert!(verify_inclusion(&ls[index], index as u64, size as u64, &p, &other).is_err());

            let old = 1 + ((seed >> 32) % size as u64) as usize;
            let c = consistency_proof(&nodes, old as u64, size as u64).unwrap();
            prop_assert_eq!(&c, &subproof(old, &ls[..size], true));
            let only: MemoryNodes = consistency_nodes(old as u64, size as u64).unwrap().iter().map(|id| Node { id: *id, hash: nodes.node(*id).unwrap() }).collect();
            prop_assert_eq!(consistency_proof(&only, old as u64, size as u64).unwrap(), c.clone());
            verify_consistency(old as u64, size as u64, &roots[old], &roots[size], &c).unwrap();
            if old < size {
                prop_assert!(verify_consistency(old as u64, size as u64, &roots[old - 1], &roots[size], &c).is_err());
                prop_assert!(verify_consistency(old as u64, size as u64, &roots[old], &roots[size - 1], &c).is_err());
                if !c.is_empty() {
                    let mut bad = c.clone();
                    bad[0] = other;
                    prop_assert!(verify_consistency(old as u64, size as u64, &roots[old], &roots[size], &bad).is_err());
                }
            }
        }
    }
}
