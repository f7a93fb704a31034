using System.Text.Json;
using System.Text.Json.Serialization;

namespace Edgewise.Hub;

// Wire shapes of the hub's JSON API, read at the edge into typed records (source-generated, no reflection).

/// <summary><c>GET /api/models/{repo}[/revision/{rev}]</c>. <c>gated</c> is <c>false</c>, <c>"auto"</c> or <c>"manual"</c>.</summary>
internal sealed record HubModelInfoDto(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("sha")] string? Sha,
    [property: JsonPropertyName("gated")] JsonElement Gated,
    [property: JsonPropertyName("private")] bool? Private);

/// <summary>One entry of <c>GET /api/models/{repo}/tree/{rev}?recursive=1</c>.</summary>
internal sealed record HubTreeEntryDto(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("path")] string? Path,
    [property: JsonPropertyName("size")] long? Size,
    [property: JsonPropertyName("oid")] string? Oid,
    [property: JsonPropertyName("lfs")] HubLfsDto? Lfs);

internal sealed record HubLfsDto(
    [property: JsonPropertyName("oid")] string? Oid,
    [property: JsonPropertyName("size")] long? Size);

/// <summary>Sidecar of a <c>.partial</c> download: what the bytes so far belong to, so a resume can validate.</summary>
internal sealed record PartialState(string Repository, string Commit, string File, long Size, string? Sha256, string? ETag);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HubModelInfoDto))]
[JsonSerializable(typeof(HubTreeEntryDto[]))]
[JsonSerializable(typeof(PartialState))]
[JsonSerializable(typeof(InstalledModel))]
[JsonSerializable(typeof(InstalledModel[]))]
internal sealed partial class HubJsonContext : JsonSerializerContext;
