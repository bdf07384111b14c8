import Foundation

/// Files committed under Fixtures/ (made by tools/make_decode_fixtures.py).
func fixture(_ name: String) throws -> Data {
    try Data(contentsOf: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)"))
}
