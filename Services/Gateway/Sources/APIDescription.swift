import Foundation
import Hummingbird

/// The gateway's own description, `docs/openapi.yaml`, copied into the gateway's resource
/// bundle at build time and served at `GET /openapi.yaml`: what a client generator or an API
/// explorer fetches from the running service, always the one it was built with.
enum APIDescription {
    /// The file's bytes, read once; nil when the bundle is missing beside the executable.
    static let bytes: [UInt8]? = Bundle.module.url(forResource: "openapi", withExtension: "yaml").flatMap {
        try? Array(Data(contentsOf: $0))
    }

    static func response() -> Response {
        guard let bytes else {
            return JSONResponse.error(503, "unavailable", "the API description is not installed beside the gateway")
        }
        return Response(
            status: .ok, headers: [.contentType: "application/yaml", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
