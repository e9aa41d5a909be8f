import Link from 'next/link';
export default function NotFound() {
  return (
    <p>
      No such page. <Link href="/" className="text-sky-700 underline">Back to the overview</Link>.
    </p>
  );
}
