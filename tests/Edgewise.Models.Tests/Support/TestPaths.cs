namespace Edgewise.Models.Tests.Support;

/// <summary>Locations the tests need: the repository root (the folder holding Edgewise.slnx), ../shared, and temp folders.</summary>
internal static class TestPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Shared => Path.Combine(RepositoryRoot, "..", "shared");

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Edgewise.slnx"))) return dir;
        }
        throw new DirectoryNotFoundException($"No Edgewise.slnx above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A temp directory deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgewise-models-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A mapped file still open on some platform; the OS temp cleaner gets it.
        }
    }
}
