/** @type {import('tailwindcss').Config} */
module.exports = {
  content: [
    "./views/**/*.templ",
    "./views/**/*.go",
    "./handlers/**/*.go",
    "./static/app.js",
  ],
  // Follow the system's light/dark setting; there is no in-app toggle.
  darkMode: "media",
  theme: {
    extend: {
      colors: {
        brand: {
          50: "#eef6ff",
          100: "#d9eaff",
          200: "#bcdbff",
          300: "#8ec4ff",
          400: "#59a3ff",
          500: "#337fff",
          600: "#1b5ff5",
          700: "#144ae1",
          800: "#173db6",
          900: "#19388f",
          950: "#142357",
        },
      },
    },
  },
  plugins: [],
};
