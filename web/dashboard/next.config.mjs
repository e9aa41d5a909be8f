/** @type {import('next').NextConfig} */
// A static export: the engine serves out/ on its own port, so production has
// no Node server. trailingSlash makes every page a directory with index.html,
// which is what the engine's static handler looks up.
const nextConfig = {
  output: 'export',
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  eslint: { ignoreDuringBuilds: true },
};
export default nextConfig;
