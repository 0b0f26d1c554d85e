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

  /// The file formats every job type can be exported in.
  static let formats = """
    ## Formats

    `format` (Eshopbox: `fileType`; any case) picks the file; every format holds the same rows in the same order.

    | format | file | served as | cells |
    |---|---|---|---|
    | `csv` (default) | `.csv` | `text/csv` | RFC 4180, UTF-8, header row, `\\r\\n`; NULL is an empty cell |
    | `csv.gz` | `.csv.gz` | `application/gzip` | the CSV, gzipped (one gzip file of several members; `gzip -d` reads it whole) |
    | `jsonl` | `.jsonl` | `application/x-ndjson` | one object per row, keys in column order; integer and money columns are numbers, NULL is `null`, the rest strings |
    | `jsonl.gz` | `.jsonl.gz` | `application/gzip` | the JSON Lines, gzipped |
    | `csv.zst`, `jsonl.zst` | `.csv.zst`, `.jsonl.zst` | `application/zstd` | the CSV or JSON Lines, Zstandard-compressed |
    | `parquet` | `.parquet` | `application/vnd.apache.parquet` | Apache Parquet: integer and money columns INT64, timestamps TIMESTAMP(MILLIS, UTC), the rest UTF-8 strings; NULL a missing value; Zstandard pages |
    | `xlsx` | `.xlsx` | `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` | sheet `export` with a header row, then `export 2`, … past 1,048,575 rows; integer and money columns are numeric cells, the rest text, NULL an empty cell |

    CSV only: `delimiter` (`","` default, `";"`, `"|"` or `"\\t"`) and `bom` (`true`: a UTF-8 byte order mark first, for spreadsheet programs that need one). In every format a text value that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that no spreadsheet runs it as a formula.


    """

  var markdown: String {
    var text = CatalogReference.formats
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
