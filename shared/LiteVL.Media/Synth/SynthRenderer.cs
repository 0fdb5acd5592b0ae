namespace LiteVL.Media.Synth;

/// <summary>
/// Draws a <see cref="ClipScene"/> into rgb24 frames: a uniform grey background and filled shapes, anti-aliased by 4×4
/// supersampling of each pixel the shape's box touches. Squares are axis-aligned, triangles point up; a shape of size s
/// fits an s×s box centred on its position.
/// </summary>
public static class SynthRenderer
{
    private const int Sub = 4;

    public static byte[][] Render(ClipScene scene, int size)
    {
        ArgumentNullException.ThrowIfNull(scene);
        var frames = new byte[scene.Frames][];
        for (int f = 0; f < scene.Frames; f++)
        {
            var frame = new byte[size * size * 3];
            frame.AsSpan().Fill(scene.Background);
            double t = scene.Frames == 1 ? 0 : f / (double)(scene.Frames - 1);
            foreach (var shape in scene.Shapes)
            {
                if (f >= shape.VisibleFrom && f < shape.VisibleTo)
                {
                    Draw(frame, size, shape.Object, Lerp(shape.X0, shape.X1, t), Lerp(shape.Y0, shape.Y1, t), Lerp(shape.Size0, shape.Size1, t));
                }
            }

            frames[f] = frame;
        }

        return frames;
    }

    private static double Lerp(double a, double b, double t) => a + ((b - a) * t);

    private static void Draw(byte[] frame, int size, SynthObject shape, double cx, double cy, double s)
    {
        var colour = SynthVocabulary.Colours[shape.Colour];
        int x0 = Math.Max(0, (int)Math.Floor(cx - (s / 2))), x1 = Math.Min(size - 1, (int)Math.Ceiling(cx + (s / 2)));
        int y0 = Math.Max(0, (int)Math.Floor(cy - (s / 2))), y1 = Math.Min(size - 1, (int)Math.Ceiling(cy + (s / 2)));
        for (int y = y0; y <= y1; y++)
        {
            for (int x = x0; x <= x1; x++)
            {
                int inside = 0;
                for (int sy = 0; sy < Sub; sy++)
                {
                    for (int sx = 0; sx < Sub; sx++)
                    {
                        double px = x + ((sx + 0.5) / Sub), py = y + ((sy + 0.5) / Sub);
                        if (Inside(shape.Shape, px - cx, py - cy, s / 2))
                        {
                            inside++;
                        }
                    }
                }

                if (inside == 0)
                {
                    continue;
                }

                double a = inside / (double)(Sub * Sub);
                int at = ((y * size) + x) * 3;
                frame[at] = Blend(frame[at], colour.R, a);
                frame[at + 1] = Blend(frame[at + 1], colour.G, a);
                frame[at + 2] = Blend(frame[at + 2], colour.B, a);
            }
        }
    }

    /// <summary>Whether the offset (dx, dy) from the centre lies in the shape of half-size <paramref name="h"/> (pixel (0,0) is the top-left corner).</summary>
    private static bool Inside(int shape, double dx, double dy, double h) => shape switch
    {
        0 => Math.Abs(dx) <= h && Math.Abs(dy) <= h,                               // square
        1 => (dx * dx) + (dy * dy) <= h * h,                                       // circle
        _ => dy >= -h && dy <= h && Math.Abs(dx) <= (dy + h) / 2,                  // triangle: apex at the top, base at the bottom
    };

    private static byte Blend(byte under, byte over, double a) => (byte)Math.Round((under * (1 - a)) + (over * a));
}
