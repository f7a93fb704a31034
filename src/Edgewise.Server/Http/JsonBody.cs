using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Edgewise.Server.Http;

/// <summary>Reads a request body as JSON, refusing non-JSON content types (415) and empty or null bodies (400).</summary>
internal static class JsonBody
{
    public static async Task<T> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> typeInfo)
        where T : class
    {
        var contentType = context.Request.ContentType;
        // A missing Content-Type is tolerated (curl --data-binary without -H); a different one is not.
        if (contentType is not null && !IsJson(contentType))
        {
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, ErrorTypes.InvalidRequest,
                $"Unsupported Content-Type '{contentType}': send 'application/json'.", code: "unsupported_media_type");
        }

        var value = await JsonSerializer.DeserializeAsync(context.Request.Body, typeInfo, context.RequestAborted);
        return value ?? throw ApiException.Invalid(null, "The request body must be a JSON object, found null.", "invalid_json");
    }

    private static bool IsJson(string contentType)
    {
        var mediaType = contentType.Split(';', 2)[0].Trim();
        return mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
            // Some SDKs (and browsers avoiding a CORS preflight) send JSON as text/plain.
            || mediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase);
    }
}
