import JobdropModel
import JobdropSystem

#if canImport(Glibc)
  import Glibc
#endif

extension Doctor {
  /// Every `deliver` target, as the first delivery would meet it: the private key file readable and
  /// private, the OpenPGP key one gpg can encrypt to, and the far side itself: an SFTP server's host key
  /// against `host_key`, the login and the folder; a bucket's credentials and a listing of its prefix.
  /// Nothing is written there.
  func deliveries(_ partners: PartnerList?) -> Check {
    var targets = (partners?.partners ?? []).compactMap { partner in
      partner.deliver.map { ("partner '\(partner.id)': ", $0) }
    }
    if let single = configuration.deliver { targets.append(("", single)) }
    guard !targets.isEmpty else { return Doctor.check("deliveries", .skip, "no deliver configured") }
    var failures: [String] = []
    var warnings: [String] = []
    for (who, target) in targets {
      let secrets = [
        ("private_key_file", target.privateKeyFile),
        ("private_key_passphrase_file", target.privateKeyPassphraseFile),
      ]
      var unreadable = false
      for case (let name, let path?) in secrets {
        guard access(path, R_OK) == 0 else {
          failures.append("\(who)\(name) \(path) cannot be read")
          unreadable = true
          continue
        }
        if let info = Doctor.status(path), info.st_mode & 0o077 != 0 {
          warnings.append("\(who)\(name) \(path) can be read by others: chmod 600 \(path)")
        }
      }
      if unreadable { continue }
      do throws(DeliveryFailure) {
        if let key = target.encryptTo { try PGPEncryptor.check(key) }
        let note = try ScratchFolder.with { folder throws(DeliveryFailure) in
          try target.makeTransport(workFolder: folder).probe()
        }
        if let note { warnings.append(who + note) }
      } catch {
        failures.append(who + error.description)
      }
    }
    if !failures.isEmpty {
      return Doctor.check(
        "deliveries", .fail, (failures + warnings).joined(separator: "; ") + ": deliveries would fail")
    }
    if !warnings.isEmpty { return Doctor.check("deliveries", .warn, warnings.joined(separator: "; ")) }
    return Doctor.check(
      "deliveries", .ok,
      "\(targets.count) delivery target\(targets.count == 1 ? "" : "s") reached with their keys")
  }
}
