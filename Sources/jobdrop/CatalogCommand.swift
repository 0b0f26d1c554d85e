import ArgumentParser
import JobdropModel

struct CatalogCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "catalog",
    abstract: "List the job types: their columns and the fields filters may use, with operators.",
    discussion: """
      With --json, prints the catalog in the file format `--catalog` reads: a starting point for pointing
      job types at your own tables or views.

      Examples:
        jobdrop catalog
        jobdrop catalog --json > my-catalog.json
      """
  )

  @OptionGroup var catalogOption: CatalogOption

  @Flag(help: "Print the catalog as JSON.")
  var json = false

  func run() throws {
    let configuration = try catalogOption.configuration()
    if json {
      print(configuration.catalogPath == nil ? Catalog.builtInJSON : try configuration.catalog.json())
      return
    }
    print(CatalogReference(catalog: configuration.catalog).markdown, terminator: "")
  }
}

/// The partner-facing reference of a catalog, as Markdown (also in docs/catalog.md).
struct CatalogReference {
  let catalog: Catalog

  var markdown: String {
    var text = ""
    for jobType in catalog.jobTypes {
      text += "## \(jobType.name)\n\n\(jobType.summary)\n\n"
      text += "Columns: " + jobType.columns.map { "`\($0.name)`" }.joined(separator: ", ") + "\n\n"
      text += "| field | type | operators | values |\n|---|---|---|---|\n"
      for field in jobType.fields {
        let values = field.values?.joined(separator: " ") ?? ""
        text +=
          "| `\(field.name)` | \(field.type.rawValue) | \(field.operators.map(\.rawValue).joined(separator: " ")) | \(values) |\n"
      }
      if let keys = jobType.eshopbox, !keys.isEmpty {
        let listed = keys.keys.sorted().map { key -> String in
          switch keys[key]! {
          case .field(let field): "`\(key)` → \(field)"
          case .dateRange(let field): "`\(key)` → \(field) range"
          }
        }
        text += "\nEshopbox `exportFilters`: " + listed.joined(separator: ", ") + "\n"
      }
      text += "\n"
    }
    return text
  }
}
