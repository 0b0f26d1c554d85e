/// This build's version (`jobdrop_build_info`, `jobdrop --version`, the Debian package).
public enum JobdropVersion {
  public static let current = "0.3.0"
}
