// A ts-mls 1.6.4 MLS member speaking Hearth's interop JSON-lines protocol
// (the same protocol as `python -m hearth_mls.interop`, core/hearth_mls/README.md),
// so that the interop tests can pair any two implementations as group members.
//
//   node tsmls_driver.mjs            # reads requests on stdin, answers on stdout
//
// One JSON object per line. Every request carries "id" and "op"; the answer repeats
// "id" and carries either {"result": {...}} or {"error": {"code", "message"}}.
// Bytes are lowercase hex of their RFC 9420 wire encoding; MLS messages are
// MLSMessage structs (RFC 9420 §6): key packages, Welcomes, PublicMessage commits
// and PrivateMessage application messages. Ciphersuite 1 only
// (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519). Handshake messages are sent as
// PublicMessage (RFC 9420 §6.2) so a Delivery Service can read the sender.
//
// Groups and unused key packages live in memory for the life of the process. A
// failed operation leaves every state unchanged (ts-mls states are immutable and
// this driver only replaces a state after an operation succeeded).

import { createInterface } from "node:readline"
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  ciphersuites,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  processMessage,
  acceptAll,
} from "ts-mls"
// ts-mls packaging quirk: these are not re-exported from the package root, only reachable
// through the "./*.js" subpath export (see ../shared/mls-interop/).
import { decodeRatchetTree, encodeRatchetTree } from "ts-mls/ratchetTree.js"
import { makeKeyPackageRef } from "ts-mls/keyPackage.js"

const SUITE = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
const TS_MLS_VERSION = "1.6.4"
// Key package lifetime (RFC 9420 §7.2): valid from an hour ago for 28 days, inside
// ts-mls' default maximum total lifetime of about a month.
const LIFETIME_BEFORE = 3600n
const LIFETIME_AFTER = 28n * 24n * 3600n

// Capabilities (RFC 9420 §7.2) as ts-mls' defaultCapabilities(), but with exactly one GREASE
// value (§13.5) in each list instead of a random subset, so every run exercises the
// other implementation's GREASE handling the same way.
function capabilities() {
  return {
    versions: ["mls10"],
    ciphersuites: [...Object.keys(ciphersuites), String(0x0a0a)],
    extensions: [0x2a2a],
    proposals: [0x3a3a],
    credentials: ["basic", "x509", String(0x1a1a)],
  }
}

class RequestError extends Error {
  constructor(code, message) {
    super(message)
    this.code = code
  }
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/

function hex(u8) {
  return Buffer.from(u8).toString("hex")
}

function field(req, name, kind, { optional = false } = {}) {
  const v = req[name]
  if (v === undefined || v === null) {
    if (optional) return undefined
    throw new RequestError("bad_request", `missing field "${name}"`)
  }
  switch (kind) {
    case "hex":
      if (typeof v !== "string" || !HEX_RE.test(v))
        throw new RequestError("bad_request", `field "${name}" must be lowercase hex of even length`)
      return new Uint8Array(Buffer.from(v, "hex"))
    case "hexlist":
      if (!Array.isArray(v) || v.length === 0)
        throw new RequestError("bad_request", `field "${name}" must be a non-empty list of hex strings`)
      return v.map((x, i) => field({ [`${name}[${i}]`]: x }, `${name}[${i}]`, "hex"))
    case "uint":
      if (!Number.isSafeInteger(v) || v < 0)
        throw new RequestError("bad_request", `field "${name}" must be a non-negative integer`)
      return v
    default:
      throw new Error(`unknown field kind ${kind}`)
  }
}

// Decodes one whole MLSMessage (RFC 9420 §6) and checks its wire format.
function decodeMessage(bytes, name, wireformats) {
  let decoded
  try {
    decoded = decodeMlsMessage(bytes, 0)
  } catch (e) {
    throw new RequestError("decode_error", `${name}: not an MLSMessage (${e.message})`)
  }
  if (decoded === undefined) throw new RequestError("decode_error", `${name}: not an MLSMessage`)
  const [msg, used] = decoded
  if (used !== bytes.length)
    throw new RequestError("decode_error", `${name}: ${bytes.length - used} trailing bytes after the MLSMessage`)
  if (!wireformats.includes(msg.wireformat))
    throw new RequestError("wrong_wireformat", `${name}: expected ${wireformats.join(" or ")}, got ${msg.wireformat}`)
  return msg
}

const wire = (m) => hex(encodeMlsMessage({ version: "mls10", ...m }))

class Driver {
  constructor(impl) {
    this.impl = impl
    this.groups = new Map() // group id hex -> ClientState
    this.keyPackages = [] // {ref: hex, publicPackage, privatePackage}
  }

  async newKeyPackage(identity) {
    const now = BigInt(Math.floor(Date.now() / 1000))
    const lifetime = { notBefore: now - LIFETIME_BEFORE, notAfter: now + LIFETIME_AFTER }
    const credential = { credentialType: "basic", identity }
    return generateKeyPackage(credential, capabilities(), lifetime, [], this.impl)
  }

  group(req) {
    const gid = hex(field(req, "group_id", "hex"))
    const state = this.groups.get(gid)
    if (state === undefined) throw new RequestError("unknown_group", `no group ${gid} in this driver`)
    return [gid, state]
  }

  summary(state) {
    return {
      group_id: hex(state.groupContext.groupId),
      epoch: Number(state.groupContext.epoch),
      leaf_index: state.privatePath.leafIndex,
    }
  }

  async commit(req, proposals) {
    const [gid, state] = this.group(req)
    const res = await createCommit(
      { state, cipherSuite: this.impl },
      { wireAsPublicMessage: true, extraProposals: proposals },
    )
    this.groups.set(gid, res.newState)
    return [res, { ...this.summary(res.newState), commit: wire(res.commit) }]
  }

  // RFC 9420 §10: a fresh KeyPackage, kept in memory until a Welcome consumes it.
  async create_key_package(req) {
    const identity = field(req, "identity", "hex")
    const kp = await this.newKeyPackage(identity)
    const ref = hex(await makeKeyPackageRef(kp.publicPackage, this.impl.hash))
    this.keyPackages.push({ ref, ...kp })
    return {
      key_package: wire({ wireformat: "mls_key_package", keyPackage: kp.publicPackage }),
      key_package_ref: ref,
    }
  }

  // RFC 9420 §11: a one-member group at epoch 0.
  async create_group(req) {
    const groupId = field(req, "group_id", "hex")
    const identity = field(req, "identity", "hex")
    const gid = hex(groupId)
    if (this.groups.has(gid)) throw new RequestError("group_exists", `group ${gid} already exists in this driver`)
    const kp = await this.newKeyPackage(identity)
    const state = await createGroup(groupId, kp.publicPackage, kp.privatePackage, [], this.impl)
    this.groups.set(gid, state)
    return this.summary(state)
  }

  // RFC 9420 §12.1.1 Add proposals committed at once (§12.4), with the Welcome (§12.4.3.1)
  // and the ratchet tree to send out of band (§12.4.3.3).
  async add_members(req) {
    const kps = field(req, "key_packages", "hexlist").map(
      (b, i) => decodeMessage(b, `key_packages[${i}]`, ["mls_key_package"]).keyPackage,
    )
    const proposals = kps.map((keyPackage) => ({ proposalType: "add", add: { keyPackage } }))
    const [res, out] = await this.commit(req, proposals)
    return {
      ...out,
      welcome: wire({ wireformat: "mls_welcome", welcome: res.welcome }),
      ratchet_tree: hex(encodeRatchetTree(res.newState.ratchetTree)),
    }
  }

  // RFC 9420 §12.4.3.1: join from a Welcome with one of this driver's key packages.
  async join(req) {
    const welcome = decodeMessage(field(req, "welcome", "hex"), "welcome", ["mls_welcome"]).welcome
    const treeBytes = field(req, "ratchet_tree", "hex", { optional: true })
    let tree
    if (treeBytes !== undefined) {
      const decoded = decodeRatchetTree(treeBytes, 0)
      if (decoded === undefined || decoded[1] !== treeBytes.length)
        throw new RequestError("decode_error", "ratchet_tree: not a whole ratchet_tree extension body")
      tree = decoded[0]
    }
    const wanted = new Set(welcome.secrets.map((s) => hex(s.newMember)))
    const index = this.keyPackages.findIndex((k) => wanted.has(k.ref))
    if (index < 0) throw new RequestError("no_key_package", "the Welcome names none of this driver's key packages")
    const kp = this.keyPackages[index]
    const state = await joinGroup(welcome, kp.publicPackage, kp.privatePackage, emptyPskIndex, this.impl, tree)
    const gid = hex(state.groupContext.groupId)
    if (this.groups.has(gid)) throw new RequestError("group_exists", `group ${gid} already exists in this driver`)
    this.keyPackages.splice(index, 1)
    this.groups.set(gid, state)
    return this.summary(state)
  }

  // RFC 9420 §6.3: an application message as PrivateMessage.
  async protect(req) {
    const [gid, state] = this.group(req)
    const plaintext = field(req, "plaintext", "hex")
    const aad = field(req, "authenticated_data", "hex", { optional: true })
    const res = await createApplicationMessage(state, plaintext, this.impl, aad)
    this.groups.set(gid, res.newState)
    return {
      ...this.summary(res.newState),
      message: wire({ wireformat: "mls_private_message", privateMessage: res.privateMessage }),
    }
  }

  // RFC 9420 §6.3.2: decrypt an application message; handshake messages are refused here.
  async unprotect(req) {
    const [gid, state] = this.group(req)
    const msg = decodeMessage(field(req, "message", "hex"), "message", ["mls_private_message"])
    if (msg.privateMessage.contentType !== "application")
      throw new RequestError("not_application", `message carries a ${msg.privateMessage.contentType}, not application data`)
    const res = await processMessage(msg, state, emptyPskIndex, acceptAll, this.impl)
    if (res.kind !== "applicationMessage")
      throw new RequestError("not_application", "message did not carry application data")
    this.groups.set(gid, res.newState)
    return { ...this.summary(res.newState), plaintext: hex(res.message) }
  }

  // RFC 9420 §12.4: a commit without proposals, whose UpdatePath re-keys the committer's leaf.
  async update(req) {
    return (await this.commit(req, []))[1]
  }

  // RFC 9420 §12.1.3: Remove proposals for the given leaves, committed at once.
  async remove(req) {
    const one = field(req, "leaf_index", "uint", { optional: true })
    const many = req.leaf_indices
    let leaves
    if (one !== undefined && many === undefined) leaves = [one]
    else if (one === undefined && Array.isArray(many) && many.length > 0)
      leaves = many.map((x, i) => field({ [`leaf_indices[${i}]`]: x }, `leaf_indices[${i}]`, "uint"))
    else throw new RequestError("bad_request", 'give exactly one of "leaf_index" or a non-empty "leaf_indices"')
    const proposals = leaves.map((removed) => ({ proposalType: "remove", remove: { removed } }))
    return (await this.commit(req, proposals))[1]
  }

  // RFC 9420 §12.4.2 and §6.3: process an incoming PublicMessage or PrivateMessage.
  async process(req) {
    const [gid, state] = this.group(req)
    const msg = decodeMessage(field(req, "message", "hex"), "message", [
      "mls_public_message",
      "mls_private_message",
    ])
    const res = await processMessage(msg, state, emptyPskIndex, acceptAll, this.impl)
    this.groups.set(gid, res.newState)
    const out = {
      ...this.summary(res.newState),
      active: res.newState.groupActiveState.kind === "active",
    }
    if (res.kind === "applicationMessage") return { ...out, kind: "application", plaintext: hex(res.message) }
    const contentType =
      msg.wireformat === "mls_public_message"
        ? msg.publicMessage.content.contentType
        : msg.privateMessage.contentType
    return { ...out, kind: contentType }
  }

  // The current state, for debugging and cross-checks: ts-mls' own state encoding (not
  // portable) plus the epoch authenticator (RFC 9420 §8.7), equal in every member.
  async export_state(req) {
    const [, state] = this.group(req)
    return {
      ...this.summary(state),
      active: state.groupActiveState.kind === "active",
      epoch_authenticator: hex(state.keySchedule.epochAuthenticator),
      tree_hash: hex(state.groupContext.treeHash),
      state: hex(encodeGroupState(state)),
    }
  }

  async info() {
    return { implementation: "ts-mls", version: TS_MLS_VERSION, ciphersuites: [1] }
  }
}

const OPS = new Set([
  "create_key_package",
  "create_group",
  "add_members",
  "join",
  "protect",
  "unprotect",
  "update",
  "remove",
  "process",
  "export_state",
  "info",
])

// ts-mls error classes (mlsError.d.ts) to stable codes.
const ERROR_CODES = {
  ValidationError: "validation_error",
  CodecError: "decode_error",
  UsageError: "usage_error",
  DependencyError: "dependency_error",
  CryptoVerificationError: "crypto_verification_error",
  CryptoError: "crypto_error",
  InternalError: "internal_error",
  MlsError: "mls_error",
}

async function answer(driver, line) {
  let req
  try {
    req = JSON.parse(line)
  } catch (e) {
    return { id: null, error: { code: "bad_json", message: `request is not JSON: ${e.message}` } }
  }
  if (req === null || typeof req !== "object" || Array.isArray(req))
    return { id: null, error: { code: "bad_request", message: "request must be a JSON object" } }
  const id = req.id ?? null
  if (id === null) return { id, error: { code: "bad_request", message: 'missing field "id"' } }
  if (typeof req.op !== "string" || !OPS.has(req.op))
    return { id, error: { code: "unknown_op", message: `unknown op ${JSON.stringify(req.op)}` } }
  try {
    return { id, result: await driver[req.op](req) }
  } catch (e) {
    if (e instanceof RequestError) return { id, error: { code: e.code, message: e.message } }
    const code = ERROR_CODES[e?.constructor?.name] ?? "error"
    return { id, error: { code, message: `${e?.constructor?.name ?? "Error"}: ${e?.message ?? e}` } }
  }
}

const driver = new Driver(await getCiphersuiteImpl(getCiphersuiteFromName(SUITE)))
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (line.trim() === "") continue
  process.stdout.write(JSON.stringify(await answer(driver, line)) + "\n")
}
