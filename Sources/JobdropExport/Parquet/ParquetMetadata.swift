/// The parts of Parquet's metadata (`parquet.thrift`) that jobdrop writes, with their Thrift field ids.
enum Parquet {
  /// The 4 bytes a Parquet file starts and ends with.
  static let magic: [UInt8] = Array("PAR1".utf8)

  /// Physical types.
  enum PhysicalType: Int32 {
    case int64 = 2
    case byteArray = 6
  }

  /// Encodings.
  enum Encoding: Int32 {
    case plain = 0
    case rle = 3
    case rleDictionary = 8
  }

  /// `CompressionCodec.ZSTD`.
  static let zstd: Int32 = 6

  /// A column of the file's schema: its physical type and what it means.
  struct ColumnSchema {
    enum Meaning {
      /// A 64-bit integer (integer and money columns).
      case integer
      /// Milliseconds since 1970 in UTC: `TIMESTAMP(isAdjustedToUTC = true, MILLIS)`.
      case timestampMillis
      /// UTF-8 text: `STRING`.
      case string
    }

    var name: String
    var meaning: Meaning

    var physicalType: PhysicalType { meaning == .string ? .byteArray : .int64 }

    /// The `SchemaElement` (every column is OPTIONAL: a NULL is a missing value).
    func write(_ thrift: inout ThriftCompactWriter) {
      thrift.field(1, i32: physicalType.rawValue)
      thrift.field(3, i32: 1)  // OPTIONAL
      thrift.field(4, string: name)
      switch meaning {
      case .integer:
        thrift.field(6, i32: 18)  // ConvertedType INT_64
        thrift.field(10) { logical in
          logical.field(10) { int in  // INTEGER
            int.field(1, i8: 64)
            int.field(2, bool: true)
          }
        }
      case .timestampMillis:
        thrift.field(6, i32: 9)  // ConvertedType TIMESTAMP_MILLIS
        thrift.field(10) { logical in
          logical.field(8) { timestamp in  // TIMESTAMP
            timestamp.field(1, bool: true)  // isAdjustedToUTC
            timestamp.field(2) { unit in unit.field(1) { _ in } }  // MILLIS
          }
        }
      case .string:
        thrift.field(6, i32: 0)  // ConvertedType UTF8
        thrift.field(10) { logical in logical.field(1) { _ in } }  // STRING
      }
    }
  }

  /// Min, max and NULL count of a column chunk, the values PLAIN-encoded (`Statistics`).
  struct Statistics {
    var nullCount: Int64
    var min: [UInt8]?
    var max: [UInt8]?

    func write(_ thrift: inout ThriftCompactWriter) {
      thrift.field(3, i64: nullCount)
      if let max { thrift.field(5, binary: max) }
      if let min { thrift.field(6, binary: min) }
    }
  }

  /// A written column chunk: where its pages are and what they hold (`ColumnChunk` with its
  /// `ColumnMetaData`).
  struct ColumnChunk {
    var column: ColumnSchema
    var encodings: [Encoding]
    var valueCount: Int64
    var uncompressedSize: Int64
    var compressedSize: Int64
    var dataPageOffset: Int64
    var dictionaryPageOffset: Int64?
    var statistics: Statistics

    func write(_ thrift: inout ThriftCompactWriter) {
      thrift.field(2, i64: dictionaryPageOffset ?? dataPageOffset)
      thrift.field(3) { meta in
        meta.field(1, i32: column.physicalType.rawValue)
        meta.field(2, i32List: encodings.map(\.rawValue))
        meta.field(3, stringList: [column.name])
        meta.field(4, i32: Parquet.zstd)
        meta.field(5, i64: valueCount)
        meta.field(6, i64: uncompressedSize)
        meta.field(7, i64: compressedSize)
        meta.field(9, i64: dataPageOffset)
        if let dictionaryPageOffset { meta.field(11, i64: dictionaryPageOffset) }
        meta.field(12) { statistics.write(&$0) }
      }
    }
  }

  struct RowGroup {
    var columns: [ColumnChunk]
    var rowCount: Int64

    func write(_ thrift: inout ThriftCompactWriter) {
      thrift.field(1, structList: columns) { thrift, chunk in chunk.write(&thrift) }
      thrift.field(2, i64: columns.reduce(0) { $0 + $1.uncompressedSize })
      thrift.field(3, i64: rowCount)
      if let first = columns.first {
        thrift.field(5, i64: first.dictionaryPageOffset ?? first.dataPageOffset)
        thrift.field(6, i64: columns.reduce(0) { $0 + $1.compressedSize })
      }
    }
  }

  /// The footer (`FileMetaData`).
  static func footer(columns: [ColumnSchema], rowGroups: [RowGroup], createdBy: String) -> [UInt8] {
    var thrift = ThriftCompactWriter()
    thrift.structBody { file in
      file.field(1, i32: 1)
      let root = ColumnSchema(name: "schema", meaning: .string)
      file.field(2, structList: [nil] + columns.map(Optional.some)) { thrift, column in
        if let column {
          column.write(&thrift)
        } else {
          thrift.field(4, string: root.name)
          thrift.field(5, i32: Int32(columns.count))
        }
      }
      file.field(3, i64: rowGroups.reduce(0) { $0 + $1.rowCount })
      file.field(4, structList: rowGroups) { thrift, group in group.write(&thrift) }
      file.field(6, string: createdBy)
      // TypeDefinedOrder for every column: min and max compare as the type says (text as unsigned
      // bytes), so readers trust the statistics.
      file.field(7, structList: columns) { thrift, _ in thrift.field(1) { _ in } }
    }
    return thrift.bytes
  }

  /// A `PageHeader`: a data page (v1, definition levels RLE) or a dictionary page (PLAIN).
  static func pageHeader(
    dictionary: Bool, valueCount: Int, encoding: Encoding, uncompressedSize: Int, compressedSize: Int
  ) -> [UInt8] {
    var thrift = ThriftCompactWriter()
    thrift.structBody { page in
      page.field(1, i32: dictionary ? 2 : 0)
      page.field(2, i32: Int32(uncompressedSize))
      page.field(3, i32: Int32(compressedSize))
      if dictionary {
        page.field(7) { header in
          header.field(1, i32: Int32(valueCount))
          header.field(2, i32: Encoding.plain.rawValue)
        }
      } else {
        page.field(5) { header in
          header.field(1, i32: Int32(valueCount))
          header.field(2, i32: encoding.rawValue)
          header.field(3, i32: Encoding.rle.rawValue)
          header.field(4, i32: Encoding.rle.rawValue)
        }
      }
    }
    return thrift.bytes
  }
}
