using Google.Protobuf;
using Onnx;

namespace LiteVL.Model.Graphs;

/// <summary>Writes ONNX models to disk, moving weights to an external-data file beside the graph when the model is large.</summary>
public static class GraphFiles
{
    /// <summary>
    /// Protobuf cannot serialize a message over 2 GB (and writing one inline silently corrupts it), so large graphs keep
    /// their initializers in <c>NAME.onnx.data</c> with a relative location. We switch well before the limit.
    /// </summary>
    public const long ExternalDataThreshold = 1L << 30;

    public static string FileName(string graph, Precision precision) =>
        precision == Precision.Fp32 ? graph + ".onnx" : graph + ".fp16.onnx";

    public static void Write(ModelProto model, string path, long externalThreshold = ExternalDataThreshold)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        string dataName = Path.GetFileName(path) + ".data";
        string dataPath = Path.Combine(dir, dataName);
        long total = model.Graph.Initializer.Sum(t => (long)t.RawData.Length);
        string tmp = path + ".tmp";
        if (total >= externalThreshold)
        {
            string dataTmp = dataPath + ".tmp";
            using (var data = new FileStream(dataTmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                foreach (var tensor in model.Graph.Initializer)
                {
                    if (tensor.RawData.Length < 1024)
                    {
                        continue;
                    }

                    // 64-byte alignment lets ONNX Runtime memory-map the data.
                    long pad = (64 - (data.Position % 64)) % 64;
                    data.Write(new byte[pad]);
                    long offset = data.Position;
                    tensor.RawData.WriteTo(data);
                    long length = tensor.RawData.Length;
                    tensor.RawData = ByteString.Empty;
                    tensor.DataLocation = TensorProto.Types.DataLocation.External;
                    tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                    tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                    tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                }
            }

            File.Move(dataTmp, dataPath, overwrite: true);
        }
        else if (File.Exists(dataPath))
        {
            File.Delete(dataPath);
        }

        using (var stream = File.Create(tmp))
        {
            model.WriteTo(stream);
        }

        File.Move(tmp, path, overwrite: true);
    }
}
