// A ts-mls 1.6.4 MLS member speaking Hearth's interop JSON-lines protocol, the one of
// `python -m hearth_mls.interop` (core/hearth_mls/README.md, "Interop driver"), so the
// interop tests can pair any two implementations as members of one group.
//
//   node tsmls_driver.mjs            # reads requests on stdin, answers on stdout
//
// One JSON object per line. Every request carries "id" and "op"; the answer repeats
// "id" and is {"ok": true, ...result fields} or {"ok": false, "error": {"code", "message"}}.
// Bytes are lowercase hex of their RFC 9420 wire encoding; MLS messages are MLSMessage
// structs (RFC 9420 §6). An identity is a string, the UTF-8 of a basic credential.
// Ciphersuite 1 only (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519). Handshake
// messages are PublicMessages (§6.2) so a Delivery Service can read the sender.
//
// Groups (by a handle "g1", "g2", ...) and unused key packages live in memory for the
// life of the process. A failed request changes nothing: ts-mls states are immutable
// and a state is replaced only after its operation succeeded.

import { createInterface } from "node:readline"
import {
  acceptAll,
  ciphersuites,
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPub,
  decodeMlsMessage,
  defaultExtensionTypes,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  joinGroupExternal,
  mlsExporter,
  processMessage,
} from "ts-mls"
// ts-mls packaging quirk: these are not re-exported from the package root, only reachable
// through its "./*.js" subpath export (see ../shared/mls-interop/).
import { decodeRatchetTree, encodeRatchetTree } from "ts-mls/ratchetTree.js"
import { makeKeyPackageRef } from "ts-mls/keyPackage.js"
import { createGroupInfo } from "ts-mls/createCommit.js"
import { decryptSenderData } from "ts-mls/privateMessage.js"
import { signGroupInfo } from "ts-mls/groupInfo.js"
import { varLenDataEncoder } from "ts-mls/codec/variableLength.js"
import { encode } from "ts-mls/codec/tlsEncoder.js"

const SUITE = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
// Key package lifetime (RFC 9420 §7.2): valid from an hour ago for 28 days, inside
// ts-mls' default maximum total lifetime of about a month.
const LIFETIME_BEFORE = 3600n
const LIFETIME_AFTER = 28n * 24n * 3600n

class RequestError extends Error {
  constructor(code, message) {
    super(message)
    this.code = code
  }
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/
const te = new TextEncoder()

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
    case "string":
      if (typeof v !== "string" || v.length === 0)
        throw new RequestError("bad_request", `field "${name}" must be a non-empty string`)
      return v
    case "uint":
      if (!Number.isSafeInteger(v) || v < 0)
        throw new RequestError("bad_request", `field "${name}" must be a non-negative integer`)
      return v
    case "uint16list":
      if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff))
        throw new RequestError("bad_request", `field "${name}" must be a list of 16-bit integers`)
      return v
    case "bool":
      if (typeof v !== "boolean") throw new RequestError("bad_request", `field "${name}" must be true or false`)
      return v
    case "extensions":
      if (!Array.isArray(v)) throw new RequestError("bad_request", `field "${name}" must be a list`)
      return v.map((e, i) => {
        if (e === null || typeof e !== "object")
          throw new RequestError("bad_request", `${name}[${i}] must be {"type": int, "data": hex}`)
        const type = field(e, "type", "uint")
        if (type > 0xffff) throw new RequestError("bad_request", `${name}[${i}].type must fit in 16 bits`)
        return { extensionType: extensionTypeName(type), extensionData: field(e, "data", "hex") }
      })
    default:
      throw new Error(`unknown field kind ${kind}`)
  }
}

// ts-mls names the extension types of RFC 9420 §17.3 and uses numbers for the others.
function extensionTypeName(type) {
  const named = Object.entries(defaultExtensionTypes).find(([, n]) => n === type)
  return named === undefined ? type : named[0]
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
    throw new RequestError("bad_request", `${name}: expected ${wireformats.join(" or ")}, got ${msg.wireformat}`)
  return msg
}

function decodeTree(bytes) {
  if (bytes === undefined) return undefined
  let decoded
  try {
    decoded = decodeRatchetTree(bytes, 0)
  } catch (e) {
    throw new RequestError("decode_error", `ratchet_tree: ${e.message}`)
  }
  if (decoded === undefined || decoded[1] !== bytes.length)
    throw new RequestError("decode_error", "ratchet_tree: not a whole ratchet_tree extension body")
  return decoded[0]
}

const wire = (m) => hex(encodeMlsMessage({ version: "mls10", ...m }))

// Capabilities (RFC 9420 §7.2) as ts-mls' defaultCapabilities(), but with exactly one GREASE
// value (§13.5) in each list instead of a random subset, so every run exercises the
// other implementation's GREASE handling the same way.
// `extensionTypes` are the non-default extension types the member also supports.
function capabilities(extensionTypes = []) {
  return {
    versions: ["mls10"],
    ciphersuites: [...Object.keys(ciphersuites), String(0x0a0a)],
    extensions: [...extensionTypes, 0x2a2a],
    proposals: [0x3a3a],
    credentials: ["basic", "x509", String(0x1a1a)],
  }
}

class Driver {
  constructor(impl) {
    this.impl = impl
    this.groups = new Map() // handle -> ClientState
    this.handles = 0
    this.keyPackages = [] // {ref: hex, publicPackage, privatePackage}
  }

  async newKeyPackage(identity, extensionTypes = []) {
    const now = BigInt(Math.floor(Date.now() / 1000))
    const lifetime = { notBefore: now - LIFETIME_BEFORE, notAfter: now + LIFETIME_AFTER }
    const credential = { credentialType: "basic", identity: te.encode(identity) }
    return generateKeyPackage(credential, capabilities(extensionTypes), lifetime, [], this.impl)
  }

  group(req) {
    const handle = field(req, "group", "string")
    const state = this.groups.get(handle)
    if (state === undefined) throw new RequestError("unknown_group", `no group ${JSON.stringify(handle)}`)
    return [handle, state]
  }

  newHandle(state) {
    const handle = `g${++this.handles}`
    this.groups.set(handle, state)
    return handle
  }

  // A message must be for this member's epoch (or, for application data, a retained past one).
  checkEpoch(state, msg) {
    const content = msg.wireformat === "mls_public_message" ? msg.publicMessage.content : msg.privateMessage
    const epoch = content.epoch
    const current = state.groupContext.epoch
    const kind = msg.wireformat === "mls_public_message" ? content.contentType : msg.privateMessage.contentType
    const retained = kind === "application" && epoch < current && state.historicalReceiverData.has(epoch)
    if (epoch !== current && !retained)
      throw new RequestError("wrong_epoch", `message is for epoch ${epoch}, this member is at epoch ${current}`)
  }

  async commit(req, proposals) {
    const [handle, state] = this.group(req)
    const res = await createCommit(
      { state, cipherSuite: this.impl },
      { wireAsPublicMessage: true, extraProposals: proposals },
    )
    this.groups.set(handle, res.newState)
    return [res, { commit: wire(res.commit), epoch: Number(res.newState.groupContext.epoch) }]
  }

  // RFC 9420 §10: a fresh KeyPackage, kept in memory until a Welcome consumes it.
  async create_key_package(req) {
    const identity = field(req, "identity", "string")
    const kp = await this.newKeyPackage(identity, field(req, "extension_types", "uint16list", { optional: true }))
    const ref = hex(await makeKeyPackageRef(kp.publicPackage, this.impl.hash))
    this.keyPackages.push({ ref, ...kp })
    return { key_package: wire({ wireformat: "mls_key_package", keyPackage: kp.publicPackage }), ref }
  }

  // RFC 9420 §11: a one-member group at epoch 0.
  async create_group(req) {
    const identity = field(req, "identity", "string")
    const groupId = field(req, "group_id", "hex", { optional: true }) ?? crypto.getRandomValues(new Uint8Array(16))
    const extensions = field(req, "extensions", "extensions", { optional: true }) ?? []
    // The creator's leaf must support every GroupContext extension (RFC 9420 §11, §7.2);
    // ts-mls does not check its own leaf, so advertise the group's non-default types.
    const custom = extensions.map((e) => e.extensionType).filter((t) => typeof t === "number")
    const kp = await this.newKeyPackage(identity, custom)
    const state = await createGroup(groupId, kp.publicPackage, kp.privatePackage, extensions, this.impl)
    return { group: this.newHandle(state), group_id: hex(groupId), epoch: Number(state.groupContext.epoch) }
  }

  // RFC 9420 §12.1.1 Add proposals committed at once (§12.4), with the Welcome (§12.4.3.1)
  // and the ratchet tree to send out of band (§12.4.3.3). Merged immediately.
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
    const tree = decodeTree(field(req, "ratchet_tree", "hex", { optional: true }))
    const wanted = new Set(welcome.secrets.map((s) => hex(s.newMember)))
    const index = this.keyPackages.findIndex((k) => wanted.has(k.ref))
    if (index < 0) throw new RequestError("no_key_package", "the Welcome names none of this driver's key packages")
    const kp = this.keyPackages[index]
    const state = await joinGroup(welcome, kp.publicPackage, kp.privatePackage, emptyPskIndex, this.impl, tree)
    this.keyPackages.splice(index, 1)
    return {
      group: this.newHandle(state),
      group_id: hex(state.groupContext.groupId),
      epoch: Number(state.groupContext.epoch),
      leaf_index: state.privatePath.leafIndex,
    }
  }

  // RFC 9420 §6.3: an application message as PrivateMessage.
  async protect(req) {
    const [handle, state] = this.group(req)
    const plaintext = field(req, "plaintext", "hex")
    const aad = field(req, "authenticated_data", "hex", { optional: true })
    const res = await createApplicationMessage(state, plaintext, this.impl, aad)
    this.groups.set(handle, res.newState)
    return { message: wire({ wireformat: "mls_private_message", privateMessage: res.privateMessage }) }
  }

  // RFC 9420 §6.3.1: the sender's leaf, from the SenderData of the message's epoch.
  async sender(state, pm) {
    const secret =
      pm.epoch === state.groupContext.epoch
        ? state.keySchedule.senderDataSecret
        : state.historicalReceiverData.get(pm.epoch)?.senderDataSecret
    const data = secret === undefined ? undefined : await decryptSenderData(pm, secret, this.impl)
    if (data === undefined) throw new RequestError("rejected", "cannot decrypt the SenderData (RFC 9420 §6.3.2)")
    return data.leafIndex
  }

  // RFC 9420 §6.3.2: decrypt an application message; handshake messages are refused here.
  async unprotect(req) {
    const [handle, state] = this.group(req)
    const msg = decodeMessage(field(req, "message", "hex"), "message", ["mls_private_message"])
    const pm = msg.privateMessage
    if (pm.contentType !== "application")
      throw new RequestError("bad_request", `message carries a ${pm.contentType}, not application data`)
    this.checkEpoch(state, msg)
    const res = await processMessage(msg, state, emptyPskIndex, acceptAll, this.impl)
    if (res.kind !== "applicationMessage") throw new RequestError("rejected", "message carried no application data")
    const sender = await this.sender(state, pm)
    this.groups.set(handle, res.newState)
    return { plaintext: hex(res.message), sender, authenticated_data: hex(pm.authenticatedData) }
  }

  // RFC 9420 §12.4: a commit without proposals, whose UpdatePath re-keys the committer's leaf.
  async update(req) {
    return (await this.commit(req, []))[1]
  }

  // RFC 9420 §12.1.3: a Remove proposal for one leaf, committed.
  async remove(req) {
    const removed = field(req, "leaf_index", "uint")
    return (await this.commit(req, [{ proposalType: "remove", remove: { removed } }]))[1]
  }

  // RFC 9420 §12.4.2 and §6.3: process an incoming PublicMessage or PrivateMessage.
  async process(req) {
    const [handle, state] = this.group(req)
    const msg = decodeMessage(field(req, "message", "hex"), "message", [
      "mls_public_message",
      "mls_private_message",
    ])
    this.checkEpoch(state, msg)
    const res = await processMessage(msg, state, emptyPskIndex, acceptAll, this.impl)
    const epoch = Number(res.newState.groupContext.epoch)
    if (res.kind === "applicationMessage") {
      const sender = await this.sender(state, msg.privateMessage)
      this.groups.set(handle, res.newState)
      return { kind: "application", epoch, plaintext: hex(res.message), sender }
    }
    this.groups.set(handle, res.newState)
    const kind =
      msg.wireformat === "mls_public_message" ? msg.publicMessage.content.contentType : msg.privateMessage.contentType
    if (kind !== "commit") return { kind, epoch }
    return { kind, epoch, removed: res.newState.groupActiveState.kind === "removedFromGroup" }
  }

  // The current state, for cross-checks between members: epoch authenticator (RFC 9420
  // §8.7), an exported secret (§8.5), the tree hash (§7.8) and the member list, plus
  // ts-mls' own state encoding (not portable).
  async export_state(req) {
    const [, state] = this.group(req)
    const members = []
    state.ratchetTree.forEach((node, i) => {
      if (i % 2 === 0 && node !== undefined && node.nodeType === "leaf") {
        const cred = node.leaf.credential
        members.push({ leaf_index: i / 2, identity: hex(cred.credentialType === "basic" ? cred.identity : []) })
      }
    })
    const exporter = await mlsExporter(state.keySchedule.exporterSecret, "hearth-interop", new Uint8Array(), 32, this.impl)
    return {
      epoch: Number(state.groupContext.epoch),
      group_id: hex(state.groupContext.groupId),
      leaf_index: state.privatePath.leafIndex,
      tree_hash: hex(state.groupContext.treeHash),
      epoch_authenticator: hex(state.keySchedule.epochAuthenticator),
      members,
      exporter: hex(exporter),
      state: hex(encodeGroupState(state)),
    }
  }

  // RFC 9420 §12.4.3: a signed GroupInfo, by default with external_pub (§12.4.3.2).
  //
  // ts-mls 1.6.4 writes the external_pub extension_data as the bare HPKE public key, but
  // RFC 9420 §12.4.3.2 defines it as `struct { HPKEPublicKey external_pub; }`, i.e. the key
  // with its own varint length prefix (`opaque HPKEPublicKey<V>`). ts-mls PR #449 changed
  // this on its main line; the 1.6.x release pinned here still has the bare key. The driver speaks RFC 9420 on the wire, so it re-frames the key
  // and re-signs the GroupInfo with the member's own signature key (same content, same signer).
  async group_info(req) {
    const [, state] = this.group(req)
    const externalPub = field(req, "external_pub", "bool", { optional: true }) ?? true
    let gi
    if (externalPub) {
      const raw = await createGroupInfoWithExternalPub(state, [], this.impl)
      const extensions = raw.extensions.map((e) =>
        e.extensionType === "external_pub"
          ? { extensionType: e.extensionType, extensionData: encode(varLenDataEncoder)(e.extensionData) }
          : e,
      )
      const { signature: _, ...tbs } = raw
      gi = await signGroupInfo({ ...tbs, extensions }, state.signaturePrivateKey, this.impl.signature)
    } else {
      gi = await createGroupInfo(state.groupContext, state.confirmationTag, state, [], this.impl)
    }
    return {
      group_info: wire({ wireformat: "mls_group_info", groupInfo: gi }),
      ratchet_tree: hex(encodeRatchetTree(state.ratchetTree)),
    }
  }

  // RFC 9420 §12.4.3.2: join by an external commit through a GroupInfo with external_pub.
  async external_join(req) {
    const identity = field(req, "identity", "string")
    const gi = decodeMessage(field(req, "group_info", "hex"), "group_info", ["mls_group_info"]).groupInfo
    const tree = decodeTree(field(req, "ratchet_tree", "hex", { optional: true }))
    // See group_info: ts-mls 1.6.4 reads external_pub as a bare key. An RFC 9420 external_pub
    // cannot be handed to it re-framed, because the GroupInfo signature covers the extension.
    // For ciphersuite 1 the bare X25519 key is 32 bytes; framed, it is 0x20 then the key.
    const ext = gi.extensions.find((e) => e.extensionType === "external_pub")
    if (ext !== undefined && ext.extensionData.length === 33 && ext.extensionData[0] === 0x20)
      throw new RequestError(
        "usage",
        "ts-mls 1.6.4 cannot join from an RFC 9420 external_pub (it expects the bare key; changed on ts-mls main by PR #449, not in 1.6.x)",
      )
    const kp = await this.newKeyPackage(identity)
    const res = await joinGroupExternal(gi, kp.publicPackage, kp.privatePackage, false, this.impl, tree)
    const state = res.newState
    return {
      group: this.newHandle(state),
      commit: wire({ wireformat: "mls_public_message", publicMessage: res.publicMessage }),
      epoch: Number(state.groupContext.epoch),
      leaf_index: state.privatePath.leafIndex,
    }
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
  "group_info",
  "external_join",
])

// ts-mls error classes (mlsError.d.ts) to the protocol's codes (core/hearth_mls/README.md).
const ERROR_CODES = {
  ValidationError: "rejected",
  CryptoVerificationError: "rejected",
  CryptoError: "rejected", // an AEAD or HPKE open failed: the message does not authenticate
  CodecError: "decode_error",
  UsageError: "usage",
  DependencyError: "internal",
  InternalError: "internal",
  MlsError: "rejected",
}

async function answer(driver, line) {
  let req
  try {
    req = JSON.parse(line)
  } catch (e) {
    return { id: null, ok: false, error: { code: "bad_request", message: `request is not JSON: ${e.message}` } }
  }
  if (req === null || typeof req !== "object" || Array.isArray(req))
    return { id: null, ok: false, error: { code: "bad_request", message: "request must be a JSON object" } }
  const id = req.id ?? null
  if (typeof id !== "string" && typeof id !== "number")
    return { id, ok: false, error: { code: "bad_request", message: 'field "id" must be a string or a number' } }
  if (typeof req.op !== "string" || !OPS.has(req.op))
    return { id, ok: false, error: { code: "bad_request", message: `unknown op ${JSON.stringify(req.op)}` } }
  try {
    return { id, ok: true, ...(await driver[req.op](req)) }
  } catch (e) {
    if (e instanceof RequestError) return { id, ok: false, error: { code: e.code, message: e.message } }
    const name = e?.constructor?.name ?? "Error"
    const code = ERROR_CODES[name] ?? (e?.name === "OperationError" ? "rejected" : "internal")
    return { id, ok: false, error: { code, message: `${name}: ${e?.message ?? e}` } }
  }
}

const driver = new Driver(await getCiphersuiteImpl(getCiphersuiteFromName(SUITE)))
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (line.trim() === "") continue
  process.stdout.write(JSON.stringify(await answer(driver, line)) + "\n")
}
