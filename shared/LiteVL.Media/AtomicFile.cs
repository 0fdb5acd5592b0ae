namespace LiteVL.Media;

/// <summary>Temp-file-then-rename writes: a reader (or a re-run after a crash) never sees half a file.</summary>
internal static class AtomicFile
{
    /// <summary>A unique temporary name beside <paramref name="finalPath"/> (same directory, so the rename is atomic).</summary>
    public static string TempPathFor(string finalPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(finalPath))!, $".{Path.GetFileName(finalPath)}.{Guid.NewGuid():N}.tmp");

    /// <summary>Moves a finished temp file over the final path (replacing an earlier run's file).</summary>
    public static void Commit(string tempPath, string finalPath) => File.Move(tempPath, finalPath, overwrite: true);

    public static void TryDelete(string path)
    {
        try
        {
            if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
