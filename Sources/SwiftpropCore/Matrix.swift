/// A row-major matrix of `rows` × `columns` values that someone else owns:
/// what the core's public API takes instead of raw pointers, so that a
/// shape always travels with its data.
///
/// Making a view is the one unchecked step: the caller promises that the
/// buffer it gives outlives the view. From there on the core checks every
/// shape against the network before it reads or writes (`X has 3 columns,
/// but the network expects 2`), so no call through a view reads out of
/// bounds. A flat vector (the parameters, a gradient) is a matrix of one
/// row.
public struct Matrix<T: Scalar> {
  public let rows: Int
  public let columns: Int
  @usableFromInline let base: UnsafePointer<T>

  /// Views `buffer` as `rows` × `columns` values; throws unless it holds
  /// exactly that many.
  public init(_ buffer: UnsafeBufferPointer<T>, rows: Int, columns: Int) throws {
    try checkShape(of: buffer.baseAddress, count: buffer.count, rows: rows, columns: columns)
    self.init(unchecked: buffer.baseAddress!, rows: rows, columns: columns)
  }

  /// Views `buffer` as one row.
  public init(_ buffer: UnsafeBufferPointer<T>) throws {
    try self.init(buffer, rows: 1, columns: buffer.count)
  }

  init(unchecked base: UnsafePointer<T>, rows: Int, columns: Int) {
    self.base = base
    self.rows = rows
    self.columns = columns
  }

  public var count: Int { rows * columns }

  /// Throws unless the shape is `rows` × `columns`, naming the matrix.
  func check(_ name: String, rows expectedRows: Int? = nil, columns expectedColumns: Int) throws {
    guard rows >= 1 else { throw EngineError(.invalidArgument, "\(name) is empty: it has \(rows) rows") }
    if columns != expectedColumns {
      throw EngineError(
        .invalidArgument, "\(name) has \(columns) columns, but the network expects \(expectedColumns)")
    }
    if let expectedRows, rows != expectedRows {
      throw EngineError(.invalidArgument, "\(name) has \(rows) rows, expected \(expectedRows)")
    }
  }

  /// Throws unless this is a vector of `count` values.
  func check(_ name: String, count expected: Int) throws {
    guard count == expected else {
      throw EngineError(.invalidArgument, "\(name) must hold \(expected) values, got \(count)")
    }
  }
}

/// A matrix view the core writes into: as `Matrix`, writable.
public struct MutableMatrix<T: Scalar> {
  public let rows: Int
  public let columns: Int
  @usableFromInline let base: UnsafeMutablePointer<T>

  /// Views `buffer` as `rows` × `columns` values; throws unless it holds
  /// exactly that many.
  public init(_ buffer: UnsafeMutableBufferPointer<T>, rows: Int, columns: Int) throws {
    try checkShape(of: buffer.baseAddress, count: buffer.count, rows: rows, columns: columns)
    base = buffer.baseAddress!
    self.rows = rows
    self.columns = columns
  }

  /// Views `buffer` as one row.
  public init(_ buffer: UnsafeMutableBufferPointer<T>) throws {
    try self.init(buffer, rows: 1, columns: buffer.count)
  }

  public var count: Int { rows * columns }

  /// The same values, read-only.
  public var readOnly: Matrix<T> { Matrix(unchecked: base, rows: rows, columns: columns) }

  /// Throws unless the shape is `rows` × `columns`, naming the matrix.
  func check(_ name: String, rows expectedRows: Int, columns expectedColumns: Int) throws {
    guard rows == expectedRows, columns == expectedColumns else {
      throw EngineError(
        .invalidArgument,
        "\(name) must hold \(expectedRows) x \(expectedColumns) values, got \(rows) x \(columns)")
    }
  }

  /// Throws unless this is a vector of at least (or exactly) `count` values.
  func check(_ name: String, count expected: Int, atLeast: Bool = false) throws {
    guard atLeast ? count >= expected : count == expected else {
      throw EngineError(
        .invalidArgument,
        "\(name) must hold \(atLeast ? "at least " : "")\(expected) values, got \(count)")
    }
  }
}

/// Throws unless a buffer at `base` of `count` values is a `rows` ×
/// `columns` matrix.
private func checkShape(of base: UnsafeRawPointer?, count: Int, rows: Int, columns: Int) throws {
  guard rows >= 0, columns >= 0, base != nil, try product(rows, columns) == count else {
    throw EngineError(
      .invalidArgument, "a buffer of \(count) values is not a \(rows) x \(columns) matrix")
  }
}
