using System.Security.Cryptography;

namespace Edgewise.Server.Http;

/// <summary>Opaque ids in OpenAI's spelling: a prefix and 24 random base-62 characters.</summary>
public static class Ids
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string ChatCompletion() => "chatcmpl-" + Random(24);
    public static string Completion() => "cmpl-" + Random(24);
    public static string ToolCall() => "call_" + Random(24);
    public static string Response() => "resp_" + Random(24);
    public static string Item(string prefix) => prefix + "_" + Random(24);

    private static string Random(int length) => RandomNumberGenerator.GetString(Alphabet, length);
}
